"""Serve Kubernetes objects over the real REST paths with kmock's KubernetesEmulator.

Usage: python kube_emulator.py OBJECTS.json [--forbid PLURAL]...

OBJECTS.json is a JSON List (`{"items": [...]}`) of full objects. Each is stored under
its API resource, so list requests on /api/v1/pods, /apis/apps/v1/deployments, ...
return them. `--forbid secrets` makes listing that resource answer 403, as an RBAC
rule would. The server binds an ephemeral loopback port and prints `PORT <n>` once
it accepts requests; it exits when its standard input closes, so it never outlives
the test that started it.
"""

import asyncio
import json
import sys

import kmock

# kind -> (group, version, plural): the kinds KubeSage reads, and a few it does not.
RESOURCES = {
    "Pod": ("", "v1", "pods"),
    "Service": ("", "v1", "services"),
    "Endpoints": ("", "v1", "endpoints"),
    "ConfigMap": ("", "v1", "configmaps"),
    "Secret": ("", "v1", "secrets"),
    "Node": ("", "v1", "nodes"),
    "Namespace": ("", "v1", "namespaces"),
    "ResourceQuota": ("", "v1", "resourcequotas"),
    "Event": ("", "v1", "events"),
    "PersistentVolumeClaim": ("", "v1", "persistentvolumeclaims"),
    "PersistentVolume": ("", "v1", "persistentvolumes"),
    "Deployment": ("apps", "v1", "deployments"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "EndpointSlice": ("discovery.k8s.io", "v1", "endpointslices"),
    "Ingress": ("networking.k8s.io", "v1", "ingresses"),
    "IngressClass": ("networking.k8s.io", "v1", "ingressclasses"),
    "StorageClass": ("storage.k8s.io", "v1", "storageclasses"),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets"),
    "ValidatingWebhookConfiguration": ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"),
    "MutatingWebhookConfiguration": ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"),
}


async def main(path, forbidden):
    with open(path, encoding="utf-8") as f:
        items = json.load(f)["items"]
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        # Declare every resource so that empty ones list as empty, not 404.
        for group, version, plural in RESOURCES.values():
            emulator.resources[kmock.resource(group, version, plural)] = {}
        for obj in items:
            if obj["kind"] not in RESOURCES:
                sys.exit(f"kube_emulator.py: no API resource known for kind {obj['kind']}")
            group, version, plural = RESOURCES[obj["kind"]]
            meta = obj["metadata"]
            emulator.objects[kmock.resource(group, version, plural), meta.get("namespace"), meta["name"]] = obj
        for plural in forbidden:
            group, version, _ = next(r for r in RESOURCES.values() if r[2] == plural)
            emulator["list", kmock.resource(group, version, plural)] << 403 << {
                "apiVersion": "v1",
                "kind": "Status",
                "status": "Failure",
                "reason": "Forbidden",
                "code": 403,
                "message": f'{plural} is forbidden: User "system:serviceaccount:ci:kubesage" cannot list resource "{plural}"',
            }
        print(f"PORT {server.port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    args = sys.argv[1:]
    forbid = [args[i + 1] for i, a in enumerate(args) if a == "--forbid"]
    files = [a for i, a in enumerate(args) if a != "--forbid" and (i == 0 or args[i - 1] != "--forbid")]
    asyncio.run(main(files[0], forbid))
