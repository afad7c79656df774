# The asb image: one static binary (musl), nothing else; what deploy/kubernetes/ runs.
#   docker build -t asb:latest .
# The build copies .git too (see .dockerignore), so `asb --version` names the commit.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin asb \
    && strip target/x86_64-unknown-linux-musl/release/asb

FROM scratch
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/asb /asb
# Replay results and merged reports go to a mounted volume; nothing is written elsewhere.
ENTRYPOINT ["/asb"]
