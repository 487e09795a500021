"""examples/kuberay/raycluster.yaml against KubeRay's RayCluster CRD schema (ray.io/v1).

The schema is the CRD's openAPIV3Schema, vendored from ray-project/kuberay (see its
``$comment``); ``jsonschema`` checks the manifest against it the way the API server's
strict field validation would: every object that lists its properties refuses any other
(``additionalProperties: false`` added where the CRD neither allows nor preserves unknown
fields), so a misspelt field fails here instead of being pruned silently. What KubeRay
needs beyond the schema (the token Secret it reads, a GPU in the workers' limits, the
same Ray as the project) is checked by hand. Nothing here talks to a Kubernetes cluster.
"""
from __future__ import annotations

import copy
import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "examples" / "kuberay" / "raycluster.yaml"
DOCKERFILE = REPO / "examples" / "kuberay" / "Dockerfile"
SCHEMA = REPO / "tests" / "fixtures" / "kuberay" / "raycluster-v1.schema.json"


def strict(schema: dict) -> dict:
    """The schema with unknown fields refused wherever the CRD does not keep them."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def validator():
    schema = strict(json.loads(SCHEMA.read_text()))
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return {d["kind"] + "/" + d["metadata"]["name"]: d for d in docs}


def errors(validator, doc: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def test_raycluster_matches_the_crd(validator, documents):
    cluster = documents["RayCluster/ebgan-sweep"]
    assert cluster["apiVersion"] == "ray.io/v1"
    assert errors(validator, cluster) == []


def test_the_check_refuses_what_kuberay_would(validator, documents):
    """The validation can fail: a misspelt field, a missing required one, a wrong type."""
    cluster = documents["RayCluster/ebgan-sweep"]
    typo = copy.deepcopy(cluster)
    typo["spec"]["workerGroupSpec"] = typo["spec"].pop("workerGroupSpecs")
    assert any("workerGroupSpec" in e for e in errors(validator, typo))
    missing = copy.deepcopy(cluster)
    del missing["spec"]["workerGroupSpecs"][0]["maxReplicas"]
    assert any("maxReplicas" in e for e in errors(validator, missing))
    wrong = copy.deepcopy(cluster)
    wrong["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0  # must be a string
    assert any("rayStartParams" in e for e in errors(validator, wrong))
    container = copy.deepcopy(cluster)
    container["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    assert any("volumeMount" in e for e in errors(validator, container))


def test_what_kuberay_needs_beyond_the_schema(documents):
    cluster = documents["RayCluster/ebgan-sweep"]["spec"]
    token = cluster["authOptions"]
    assert token["mode"] == "token"
    # KubeRay reads the token from the key auth_token of that Secret.
    assert "auth_token" in documents[f"Secret/{token['secretName']}"]["stringData"]
    head = cluster["headGroupSpec"]["template"]["spec"]
    volumes = {v["name"]: v for v in head["volumes"]}
    for mount in head["containers"][0]["volumeMounts"]:
        claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
        assert f"PersistentVolumeClaim/{claim}" in documents
    assert cluster["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    images = {head["containers"][0]["image"]}
    for group in cluster["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        container = group["template"]["spec"]["containers"][0]
        images.add(container["image"])
        assert float(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        secrets = [e["secretRef"]["name"] for e in container["envFrom"]]
        assert all(f"Secret/{s}" in documents for s in secrets)
        assert "AWS_SECRET_ACCESS_KEY" in documents[f"Secret/{secrets[0]}"]["stringData"]
    assert len(images) == 1  # head and workers run the same image


def test_same_ray_as_the_project(documents):
    """The cluster's Ray (rayVersion, the Dockerfile's base image) is the project's."""
    ray_version = documents["RayCluster/ebgan-sweep"]["spec"]["rayVersion"]
    base = re.search(r"^FROM rayproject/ray:(\S+?)-py(\d)(\d+)", DOCKERFILE.read_text(), re.M)
    assert base and base.group(1) == ray_version, base
    assert (base.group(2), base.group(3)) == ("3", "11")  # requires-python of pyproject.toml
    assert ray_version.split(".")[:2] == version("ray").split(".")[:2]
