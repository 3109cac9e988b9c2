//! The agent image's premises, checked without a container engine (none runs on the
//! development machines): the `Dockerfile`'s runtime stage (`distroless/cc`) holds glibc and
//! libgcc only, so the binary must need nothing else; and the image's user must be the one the
//! manifests run as.

use crate::support::{chaos_bin, repo_root};

/// What `gcr.io/distroless/cc-debian12` provides: glibc (with its split-out libraries) and
/// libgcc. OpenSSL, for one, is not there: a TLS stack linked dynamically would break the image.
const IN_DISTROLESS_CC: &[&str] = &[
    "linux-vdso.so.1",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
];

#[test]
fn the_binary_needs_no_shared_library_beyond_the_runtime_image() {
    let out = match std::process::Command::new("ldd").arg(chaos_bin()).output() {
        Ok(out) if out.status.success() => out,
        // Not a glibc system (no `ldd`): nothing to compare against.
        _ => return,
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(needed.contains(&"libc.so.6"), "{listing}");
    for lib in &needed {
        let name = lib.rsplit('/').next().unwrap_or(lib);
        assert!(
            IN_DISTROLESS_CC.contains(&name),
            "`chaos` needs {name}, which the Dockerfile's distroless/cc runtime image lacks:\n{listing}"
        );
    }
}

#[test]
fn the_image_runs_as_the_user_the_manifests_name() {
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let user = format!("USER {0}:{0}", chaos_k8s::manifests::RUN_AS_USER);
    assert!(dockerfile.contains(&user), "Dockerfile lacks `{user}`");
    assert!(
        dockerfile.contains(":nonroot"),
        "the runtime base is not a nonroot image"
    );
    // The build stage's toolchain is at least the workspace's `rust-version`.
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let minor_of = |v: &str| -> (u32, u32) {
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    };
    let required = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| minor_of(v.trim_matches('"')))
        .unwrap();
    let image = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .and_then(|rest| rest.split('-').next())
        .map(minor_of)
        .unwrap();
    assert!(
        image >= required,
        "the Dockerfile builds with rust {image:?}, the workspace needs {required:?}"
    );
}
