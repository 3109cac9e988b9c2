# The `chaos` image: the agent (`chaos agent`) and the load generator (`chaos loadgen`) that
# `chaos run --cluster` and the manifests of `chaos compile --target k8s` start.
#   docker build -t chaos:0.1.0 .
# Needs BuildKit (the default builder of Docker 23+) for the cache mounts.

# --- build: the release binary, with the toolchain the workspace is tested with
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package chaos --bin chaos \
 && install -D -m 0755 target/release/chaos /out/chaos

# --- runtime: glibc and libgcc only, no shell, user 65532 (the manifests' runAsUser)
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/chaos /usr/local/bin/chaos
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/chaos"]
CMD ["--help"]
