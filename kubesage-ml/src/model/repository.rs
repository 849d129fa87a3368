//! A model repository: the models a server serves, kept in a folder laid out as
//! `ROOT/<name>/<version>/model.onnx` — the layout Triton and KServe's model servers read,
//! so one folder (or volume) serves with either.
//!
//! The folder is the store: uploads are written there (to a temporary file first, renamed
//! into place, so a crash never leaves half a model), deletions remove the version's folder,
//! and a restarted server finds every model where it left it. What is in memory is which
//! versions are loaded: [`ModelRepository::load_all`] at start, then
//! [`ModelRepository::load`] and [`ModelRepository::unload`] per model, as the repository
//! extension of the Open Inference Protocol asks; a model copied into the folder while the
//! server runs is listed by [`ModelRepository::index`] and served after a `load`.
//!
//! Versions are positive integers (folder names `1`, `2`, …) and immutable: an upload to an
//! existing version is refused. A request without a version gets the highest version that
//! is ready. Names are 1 to 128 of `A-Z a-z 0-9 _ . -`, not starting with a dot, so a name
//! can never reach outside the root.
//!
//! Loading is the expensive part (tract optimises the graph), and happens outside the lock:
//! requests keep being served from the versions already loaded while a model (re)loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::Model;
use crate::error::{Error, Result};

/// The file name of a model inside its version folder.
pub const MODEL_FILE: &str = "model.onnx";

/// Longest model name accepted.
const MAX_NAME: usize = 128;

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelState {
    /// Loaded: requests are served.
    Ready,
    /// On disk but not loaded: never loaded, unloaded, or its load failed (see the reason).
    Unavailable,
}

impl ModelState {
    /// The protocol's spelling: `READY` or `UNAVAILABLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Ready => "READY",
            ModelState::Unavailable => "UNAVAILABLE",
        }
    }
}

/// One version of a model and its state, as the repository index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionStatus {
    /// The model's name.
    pub name: String,
    /// The version.
    pub version: u64,
    /// Whether it is served.
    pub state: ModelState,
    /// Why it is not: `not loaded`, `unloaded`, or the load error. Empty when ready.
    pub reason: String,
}

#[derive(Clone)]
enum Slot {
    Ready(Model),
    Unavailable(String),
}

/// The repository: the folder and the loaded versions. Share it behind an `Arc`.
pub struct ModelRepository {
    root: PathBuf,
    models: RwLock<BTreeMap<String, BTreeMap<u64, Slot>>>,
}

impl std::fmt::Debug for ModelRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRepository").field("root", &self.root).finish_non_exhaustive()
    }
}

/// Checks that `name` can be a model's folder name.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::ModelName { name: name.to_owned(), reason: reason.to_owned() });
    if name.is_empty() || name.len() > MAX_NAME {
        return bad("must be 1 to 128 characters");
    }
    if name.starts_with('.') {
        return bad("must not start with a dot");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return bad("may contain only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

/// Parses a version as the protocol's URLs and the folder names carry it: a positive integer.
pub fn parse_version(text: &str) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(v) if v > 0 && !text.starts_with('+') && !text.starts_with('0') => Ok(v),
        _ => Err(Error::ModelName { name: text.to_owned(), reason: "a version is a positive integer".into() }),
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

impl ModelRepository {
    /// The repository in `root`, created if missing. Nothing is loaded yet.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        if !root.is_dir() {
            return Err(Error::Io {
                path: root.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
            });
        }
        Ok(ModelRepository { root: root.to_owned(), models: RwLock::new(BTreeMap::new()) })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The model names in the folder, sorted (entries that cannot be names are skipped).
    fn names_on_disk(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            if let Some(name) = entry.file_name().to_str()
                && check_name(name).is_ok()
                && entry.path().is_dir()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The versions of `name` in the folder that hold a model file, ascending.
    fn versions_on_disk(&self, name: &str) -> Result<Vec<u64>> {
        let dir = self.root.join(name);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            if let Some(v) = entry.file_name().to_str().and_then(|s| parse_version(s).ok())
                && entry.path().join(MODEL_FILE).is_file()
            {
                versions.push(v);
            }
        }
        versions.sort_unstable();
        Ok(versions)
    }

    fn model_path(&self, name: &str, version: u64) -> PathBuf {
        self.root.join(name).join(version.to_string()).join(MODEL_FILE)
    }

    /// Loads every model in the folder (all versions); returns each version's state. A
    /// version (or model) that fails to load is listed unavailable with the error; the
    /// others serve.
    pub fn load_all(&self) -> Result<Vec<VersionStatus>> {
        let mut all = Vec::new();
        for name in self.names_on_disk()? {
            if self.versions_on_disk(&name)?.is_empty() {
                continue;
            }
            match self.load(&name) {
                Ok(states) => all.extend(states),
                // Its versions are recorded as unavailable, with the reasons; go on.
                Err(Error::ModelNotReady { .. }) => all.extend(self.versions(&name)?),
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    /// Loads (or reloads) every version of `name` from the folder and serves them. Fails
    /// when the folder has no version of it; a version that does not load is listed
    /// unavailable with the error, and the call fails when none loads.
    pub fn load(&self, name: &str) -> Result<Vec<VersionStatus>> {
        check_name(name)?;
        let versions = self.versions_on_disk(name)?;
        if versions.is_empty() {
            return Err(Error::ModelNotFound { name: name.to_owned(), version: None });
        }
        let mut slots = BTreeMap::new();
        for v in versions {
            let slot = match Model::load(&self.model_path(name, v)) {
                Ok(m) => Slot::Ready(m),
                Err(e) => Slot::Unavailable(kubesage_core::error::display_chain(&e)),
            };
            slots.insert(v, slot);
        }
        let statuses = statuses(name, &slots);
        let failures: Vec<String> = statuses
            .iter()
            .filter(|s| s.state != ModelState::Ready)
            .map(|s| format!("version {}: {}", s.version, s.reason))
            .collect();
        let none_ready = failures.len() == statuses.len();
        write(&self.models).insert(name.to_owned(), slots);
        if none_ready {
            return Err(Error::ModelNotReady { name: name.to_owned(), version: None, reason: failures.join("; ") });
        }
        Ok(statuses)
    }

    /// Stops serving `name` (every version); its files stay.
    pub fn unload(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let mut models = write(&self.models);
        let Some(slots) = models.get_mut(name) else {
            return Err(Error::ModelNotFound { name: name.to_owned(), version: None });
        };
        for slot in slots.values_mut() {
            *slot = Slot::Unavailable("unloaded".into());
        }
        Ok(())
    }

    /// The model to serve: `version`, or the highest ready version when `None`.
    pub fn get(&self, name: &str, version: Option<u64>) -> Result<(u64, Model)> {
        let models = read(&self.models);
        let not_found = || Error::ModelNotFound { name: name.to_owned(), version };
        let slots = models.get(name).ok_or_else(not_found)?;
        match version {
            Some(v) => match slots.get(&v).ok_or_else(not_found)? {
                Slot::Ready(m) => Ok((v, m.clone())),
                Slot::Unavailable(reason) => {
                    Err(Error::ModelNotReady { name: name.to_owned(), version, reason: reason.clone() })
                }
            },
            None => slots
                .iter()
                .rev()
                .find_map(|(v, s)| match s {
                    Slot::Ready(m) => Some((*v, m.clone())),
                    Slot::Unavailable(_) => None,
                })
                .ok_or_else(|| Error::ModelNotReady {
                    name: name.to_owned(),
                    version,
                    reason: slots.values().next_back().map_or_else(String::new, |s| match s {
                        Slot::Unavailable(r) => r.clone(),
                        Slot::Ready(_) => String::new(),
                    }),
                }),
        }
    }

    /// The versions of `name` known in memory or present in the folder, with their states.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionStatus>> {
        check_name(name)?;
        let mut merged: BTreeMap<u64, Slot> =
            self.versions_on_disk(name)?.into_iter().map(|v| (v, Slot::Unavailable("not loaded".into()))).collect();
        if let Some(slots) = read(&self.models).get(name) {
            merged.extend(slots.iter().map(|(v, s)| (*v, s.clone())));
        }
        if merged.is_empty() {
            return Err(Error::ModelNotFound { name: name.to_owned(), version: None });
        }
        Ok(statuses(name, &merged))
    }

    /// Every version of every model, in the folder or in memory, sorted by name and version.
    pub fn index(&self) -> Result<Vec<VersionStatus>> {
        let mut names = self.names_on_disk()?;
        names.extend(read(&self.models).keys().cloned());
        names.sort();
        names.dedup();
        let mut all = Vec::new();
        for name in names {
            match self.versions(&name) {
                Ok(v) => all.extend(v),
                Err(Error::ModelNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    /// Whether every model loaded at least once serves all its versions: false while a
    /// version failed to load (a server should not take traffic with a broken model), true
    /// for an empty repository and after an explicit unload.
    pub fn all_ready(&self) -> bool {
        read(&self.models).values().flat_map(|s| s.values()).all(|s| match s {
            Slot::Ready(_) => true,
            Slot::Unavailable(reason) => reason == "unloaded",
        })
    }

    /// Stores `bytes` as `name`'s `version` (the next version when `None`) and serves it. The
    /// model is checked and loaded before anything is written: a model that does not load is
    /// refused with the load error and leaves the folder as it was.
    pub fn put(&self, name: &str, version: Option<u64>, bytes: &[u8]) -> Result<VersionStatus> {
        check_name(name)?;
        let model = Model::from_bytes(bytes)?;
        let on_disk = self.versions_on_disk(name)?;
        let version = match version {
            Some(v) => v,
            None => on_disk.last().map_or(1, |v| v + 1),
        };
        let exists_in_memory = read(&self.models).get(name).is_some_and(|s| s.contains_key(&version));
        if on_disk.contains(&version) || exists_in_memory {
            return Err(Error::ModelExists { name: name.to_owned(), version });
        }
        let dir = self.root.join(name).join(version.to_string());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tmp = dir.join(format!(".{MODEL_FILE}.partial"));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        let path = dir.join(MODEL_FILE);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        write(&self.models).entry(name.to_owned()).or_default().insert(version, Slot::Ready(model));
        Ok(VersionStatus { name: name.to_owned(), version, state: ModelState::Ready, reason: String::new() })
    }

    /// Deletes `version` of `name` (every version when `None`): its files and its loaded model.
    pub fn delete(&self, name: &str, version: Option<u64>) -> Result<()> {
        check_name(name)?;
        let on_disk = self.versions_on_disk(name)?;
        let mut models = write(&self.models);
        let known = match version {
            Some(v) => on_disk.contains(&v) || models.get(name).is_some_and(|s| s.contains_key(&v)),
            None => !on_disk.is_empty() || models.contains_key(name),
        };
        if !known {
            return Err(Error::ModelNotFound { name: name.to_owned(), version });
        }
        let dir = match version {
            Some(v) => self.root.join(name).join(v.to_string()),
            None => self.root.join(name),
        };
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&dir)(e)),
        }
        match version {
            Some(v) => {
                if let Some(slots) = models.get_mut(name) {
                    slots.remove(&v);
                    if slots.is_empty() {
                        models.remove(name);
                    }
                }
            }
            None => {
                models.remove(name);
            }
        }
        Ok(())
    }
}

fn statuses(name: &str, slots: &BTreeMap<u64, Slot>) -> Vec<VersionStatus> {
    slots
        .iter()
        .map(|(v, s)| match s {
            Slot::Ready(_) => {
                VersionStatus { name: name.to_owned(), version: *v, state: ModelState::Ready, reason: String::new() }
            }
            Slot::Unavailable(reason) => VersionStatus {
                name: name.to_owned(),
                version: *v,
                state: ModelState::Unavailable,
                reason: reason.clone(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{FLOAT, add_model, floats_bytes, tensor};

    fn model_bytes(c: f32) -> Vec<u8> {
        add_model(tensor("c", FLOAT, &[3], &floats_bytes(&[c, c, c])))
    }

    /// What version `v` of `name` adds to zeros (each test model adds its own constant).
    fn answer(repo: &ModelRepository, name: &str, v: Option<u64>) -> (u64, f32) {
        let (version, m) = repo.get(name, v).expect("served");
        let x =
            crate::model::data::NamedTensor::new("x", vec![1, 3], crate::model::data::TensorData::Fp32(vec![0.0; 3]))
                .expect("tensor");
        match &m.infer(vec![x], &[]).expect("runs")[0].data {
            crate::model::data::TensorData::Fp32(v) => (version, v[0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uploads_are_stored_versioned_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = ModelRepository::open(dir.path()).expect("opens");
        assert_eq!(repo.put("adder", None, &model_bytes(1.0)).expect("stored").version, 1);
        assert_eq!(repo.put("adder", None, &model_bytes(2.0)).expect("stored").version, 2);
        assert!(dir.path().join("adder/2/model.onnx").is_file());
        assert_eq!(answer(&repo, "adder", None), (2, 2.0));
        assert_eq!(answer(&repo, "adder", Some(1)), (1, 1.0));
        assert!(matches!(repo.put("adder", Some(2), &model_bytes(3.0)), Err(Error::ModelExists { version: 2, .. })));

        let restarted = ModelRepository::open(dir.path()).expect("opens");
        assert!(matches!(restarted.get("adder", None), Err(Error::ModelNotFound { .. })));
        let loaded = restarted.load_all().expect("loads");
        assert_eq!(
            loaded.iter().map(|s| (s.version, s.state)).collect::<Vec<_>>(),
            vec![(1, ModelState::Ready), (2, ModelState::Ready)]
        );
        assert_eq!(answer(&restarted, "adder", None), (2, 2.0));
    }

    #[test]
    fn a_model_dropped_into_the_folder_is_listed_then_served_after_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = ModelRepository::open(dir.path()).expect("opens");
        std::fs::create_dir_all(dir.path().join("late/3")).expect("mkdir");
        std::fs::write(dir.path().join("late/3/model.onnx"), model_bytes(5.0)).expect("write");
        std::fs::create_dir_all(dir.path().join("late/notes")).expect("mkdir");
        let index = repo.index().expect("index");
        assert_eq!(
            index,
            vec![VersionStatus {
                name: "late".into(),
                version: 3,
                state: ModelState::Unavailable,
                reason: "not loaded".into()
            }]
        );
        assert!(matches!(repo.get("late", None), Err(Error::ModelNotFound { .. })));
        repo.load("late").expect("loads");
        assert_eq!(answer(&repo, "late", None), (3, 5.0));
        repo.unload("late").expect("unloads");
        assert!(matches!(repo.get("late", None), Err(Error::ModelNotReady { ref reason, .. }) if reason == "unloaded"));
        assert!(repo.all_ready(), "an unloaded model does not make the server unready");
        assert!(dir.path().join("late/3/model.onnx").is_file(), "unload keeps the files");
        assert!(matches!(repo.load("absent"), Err(Error::ModelNotFound { .. })));
    }

    #[test]
    fn a_broken_file_is_unavailable_with_its_reason_and_others_still_serve() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (v, bytes) in [(1, model_bytes(1.0)), (2, b"not a model".to_vec())] {
            let d = dir.path().join(format!("mixed/{v}"));
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join(MODEL_FILE), bytes).expect("write");
        }
        let repo = ModelRepository::open(dir.path()).expect("opens");
        let states = repo.load("mixed").expect("one version loads");
        assert_eq!(states[0].state, ModelState::Ready);
        assert_eq!(states[1].state, ModelState::Unavailable);
        assert!(states[1].reason.contains("not a readable ONNX model"), "{}", states[1].reason);
        assert!(!repo.all_ready());
        assert_eq!(answer(&repo, "mixed", None), (1, 1.0), "the highest ready version serves");
        assert!(matches!(repo.get("mixed", Some(2)), Err(Error::ModelNotReady { .. })));

        std::fs::remove_dir_all(dir.path().join("mixed/1")).expect("rm");
        assert!(matches!(repo.load("mixed"), Err(Error::ModelNotReady { .. })), "no version loads");

        // At start, a model that does not load at all does not stop the others.
        std::fs::create_dir_all(dir.path().join("good/1")).expect("mkdir");
        std::fs::write(dir.path().join("good/1").join(MODEL_FILE), model_bytes(4.0)).expect("write");
        let restarted = ModelRepository::open(dir.path()).expect("opens");
        let all = restarted.load_all().expect("reads the folder");
        let states: Vec<(&str, u64, ModelState)> = all.iter().map(|s| (s.name.as_str(), s.version, s.state)).collect();
        assert_eq!(states, vec![("good", 1, ModelState::Ready), ("mixed", 2, ModelState::Unavailable)]);
        assert_eq!(answer(&restarted, "good", None), (1, 4.0));
    }

    #[test]
    fn refused_uploads_leave_the_folder_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = ModelRepository::open(dir.path()).expect("opens");
        assert!(matches!(repo.put("m", None, b"garbage"), Err(Error::ModelDecode { .. })));
        for bad in ["", "..", "../escape", ".hidden", "a/b", "sp ace", &"x".repeat(129)] {
            assert!(matches!(repo.put(bad, None, &model_bytes(1.0)), Err(Error::ModelName { .. })), "{bad:?}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
        for bad in ["0", "01", "-1", "+1", "v1", ""] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_version("12").expect("version"), 12);
    }

    #[test]
    fn delete_removes_a_version_or_the_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = ModelRepository::open(dir.path()).expect("opens");
        repo.put("m", None, &model_bytes(1.0)).expect("stored");
        repo.put("m", None, &model_bytes(2.0)).expect("stored");
        repo.delete("m", Some(2)).expect("deleted");
        assert!(!dir.path().join("m/2").exists());
        assert_eq!(answer(&repo, "m", None), (1, 1.0));
        assert!(matches!(repo.delete("m", Some(2)), Err(Error::ModelNotFound { .. })));
        repo.delete("m", None).expect("deleted");
        assert!(!dir.path().join("m").exists());
        assert!(repo.index().expect("index").is_empty());
        assert!(matches!(repo.versions("m"), Err(Error::ModelNotFound { .. })));
    }
}
