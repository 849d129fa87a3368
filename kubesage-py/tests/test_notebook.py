"""examples/notebooks/kubesage_tour.ipynb runs from top to bottom against the installed package."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "kubesage_tour.ipynb"


def output_text(cell: Any) -> str:
    parts: List[str] = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for mime in ("text/plain", "text/html"):
            data = out.get("data", {}).get(mime)
            if data:
                parts.append(data if isinstance(data, str) else "".join(data))
    return "\n".join(parts)


def tagged(nb: Any, tag: str) -> Any:
    (cell,) = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    return cell


def test_the_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert "savefig" not in "".join(c.source for c in code)


def test_the_notebook_runs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:60]

    assert "CrashLoopBackOff" in output_text(tagged(nb, "findings"))
    plot = tagged(nb, "plot")
    assert any("image/png" in o.get("data", {}) for o in plot.outputs), "the plot cell shows no figure"
    # The last cell checks that streaming equals batch scoring.
    assert output_text(nb.cells[-1]).strip() == "True"
