//! `chaos run --cluster`: deploy, inject on schedule, collect, always clean up. The only module that talks to Kubernetes.
