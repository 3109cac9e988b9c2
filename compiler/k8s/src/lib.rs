//! The Kubernetes back end: a plan becomes manifests (k8s-openapi types) and a fault schedule.
