"""`python -m deploy.validate`: check the deployment files offline (part of `make lint`).

No Docker and no kubectl: the compose file is checked against the vendored Compose
specification schema, the kustomization is built in Python and each manifest checked against
the Kubernetes schema bundled in `kubernetes-validate`, and both against the code: the modules
they run, the settings they set, the topics of `shared.contracts`, the probes and the scrapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from deploy import acls
from deploy.compose_check import check_compose
from deploy.dockerfile_check import check_dockerfile
from deploy.k8s_check import check_k8s
from deploy.topics import DEPLOY_ROOT, stale_files


def validate(root: Path = DEPLOY_ROOT) -> list[str]:
    """Every problem of the deployment files under `root` (a `deploy/` folder); [] when sound."""
    problems = [
        f"{path}: stale, regenerate with `python -m deploy.topics`" for path in stale_files(root)
    ]
    problems += [
        f"{path}: stale, regenerate with `python -m deploy.acls`" for path in acls.stale_files(root)
    ]
    problems += check_dockerfile(root, repository=DEPLOY_ROOT.parent)
    problems += check_compose(root)
    problems += check_k8s(root)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        print("usage: python -m deploy.validate [DEPLOY_DIR]", file=sys.stderr)
        return 2
    root = Path(args[0]) if args else DEPLOY_ROOT
    problems = validate(root)
    for problem in problems:
        print(f"deploy/{problem}", file=sys.stderr)
    if problems:
        print(f"deploy: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("deploy: Dockerfile, compose.yaml, k8s/, the topic and ACL files are consistent")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
