"""Deployment: Docker image, compose file, Kubernetes manifests and their offline validation.

`python -m deploy.topics` writes the topic configuration from `shared.contracts`;
`python -m deploy.validate` checks every file here without Docker or kubectl.
"""
