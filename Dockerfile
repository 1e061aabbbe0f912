# rotascope serve in a container: a static (musl) binary on an empty image, run as a non-root
# user. Build: docker build -t rotascope .   Run (the config and secrets mounted read-only):
#   docker run --rm -p 9187:9187 -v "$PWD/conf:/etc/rotascope:ro" rotascope
# The default command serves on 0.0.0.0:9187 with --allow-remote (inside a container loopback is
# useless); the endpoints have no authentication: publish the port to trusted networks only.
# Not part of CI (no Docker there); deploy/kubernetes/rotascope.yaml uses this image.

FROM rust:1-alpine AS build
# musl-dev: ring's C and assembly; ca-certificates: copied for sslrootcert=system.
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Cargo.toml names the benches, so they must be present to build anything.
COPY src src
COPY benches benches
# On Alpine the Rust target is musl: the binary is static (no libc, no OpenSSL, no libpq).
RUN cargo build --release --locked --bin rotascope \
 && strip target/release/rotascope \
 && ! ldd target/release/rotascope 2>/dev/null | grep -q '=>'

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/target/release/rotascope /usr/local/bin/rotascope
# No shell and no other program in this image: a secrets_command needs an image that has its
# program (build FROM a distroless or Alpine base instead of scratch for that).
USER 65532:65532
ENV HOME=/nonexistent
EXPOSE 9187
ENTRYPOINT ["/usr/local/bin/rotascope"]
CMD ["serve", "--config", "/etc/rotascope/rotascope.toml", "--listen", "0.0.0.0:9187", "--allow-remote"]
