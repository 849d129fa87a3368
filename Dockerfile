# KubeSage as an in-cluster service: `kubesage serve` in a distroless, non-root image.
#
#   docker build -t ghcr.io/kubesage/kubesage:0.1.0 .
#
# deploy/kubernetes runs this image; deploy/kubernetes/README.md explains the manifests.

# --- build ---------------------------------------------------------------------------------
# The workspace's rust-version, so the image is built by the oldest toolchain we support.
FROM rust:1.89-bookworm AS builder
WORKDIR /src

# Third-party crates first, in their own layer: it depends only on the manifests and the lock
# file, so editing our code does not rebuild the ~300 dependencies. Cargo needs every workspace
# member's manifest and a target for each, so the members get empty stand-in sources here.
COPY Cargo.toml Cargo.lock ./
COPY kubesage-core/Cargo.toml kubesage-core/
COPY kubesage-ml/Cargo.toml kubesage-ml/
COPY kubesage-k8s/Cargo.toml kubesage-k8s/
COPY kubesage-server/Cargo.toml kubesage-server/
COPY kubesage-py/Cargo.toml kubesage-py/
COPY benches/Cargo.toml benches/
COPY examples/Cargo.toml examples/
RUN for crate in kubesage-core kubesage-ml kubesage-k8s kubesage-py; do \
        mkdir -p "$crate/src" && touch "$crate/src/lib.rs"; \
    done \
    && mkdir -p kubesage-server/src && echo 'fn main() {}' > kubesage-server/src/main.rs \
    && cargo build --release --locked -p kubesage-server --bin kubesage

# Our code. COPY keeps the files' old modification times, which would look older than the
# stand-ins compiled above; touching them makes cargo rebuild our crates (and only those).
COPY . .
RUN find kubesage-core kubesage-ml kubesage-k8s kubesage-server -name '*.rs' -exec touch {} + \
    && cargo build --release --locked -p kubesage-server --bin kubesage \
    && install -D -m 0755 target/release/kubesage /out/kubesage

# --- run -----------------------------------------------------------------------------------
# glibc, libgcc and CA certificates, nothing else: TLS is rustls, so no OpenSSL, and no shell.
# The `nonroot` variant's user is 65532:65532.
FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="kubesage" \
      org.opencontainers.image.description="KubeSage: AI-assisted Kubernetes operations (kubesage serve)" \
      org.opencontainers.image.source="https://github.com/kubesage/kubesage" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /out/kubesage /kubesage

USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/kubesage"]
# The token file is the Secret `kubesage-token` that deploy/kubernetes/deployment.yaml mounts;
# kubesage-server/tests/deploy_manifests.rs checks that the two paths agree.
CMD ["serve", "--listen", "0.0.0.0:8080", "--token-file", "/var/run/secrets/kubesage/token"]
