# syntax=docker/dockerfile:1
#
# The mlinfra agent's image, as action.yml runs it. Three stages on one pinned Debian 12 base:
#   build      compiles the agent with the -dev packages and runs its unit tests (a failing
#              test fails the image build)
#   terraform  downloads terraform at a pinned version and checks its SHA-256 before unpacking
#   (final)    the agent, its runtime libraries and terraform; no compiler, no curl, non-root
#
#   docker build -t mlinfra .
#   docker build --build-arg TERRAFORM_VERSION=1.10.0 --build-arg TERRAFORM_SHA256=<sha> -t mlinfra .
#
# Expected size and how it was estimated: docs/usage.md, "The container image".

# debian:bookworm-20250721-slim, pinned by the digest of its multi-platform index.
ARG DEBIAN_IMAGE=debian:bookworm-20250721-slim@sha256:2424c1850714a4d94666ec928e24d86de958646737b1d113f5b2207be44d37d8

# ---------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libcurl4-openssl-dev libjansson-dev libgit2-dev libsodium-dev libyaml-dev \
      libcriterion-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the build and the unit tests read (.dockerignore keeps the rest out).
COPY CMakeLists.txt ./
COPY agent/ agent/
COPY tests/support/ tests/support/
COPY tests/unit/ tests/unit/
COPY tests/fixtures/ tests/fixtures/

RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMLINFRA_WERROR=ON \
 && cmake --build build -j"$(nproc)" \
 && ctest --test-dir build -L unit --output-on-failure \
 && install -D -m 0755 -s build/mlinfra /out/mlinfra

# ---------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS terraform

# The checksum is HashiCorp's, from terraform_<version>_SHA256SUMS, for the linux_amd64 zip.
# For another architecture pass its checksum too, e.g. for arm64 with 1.9.8:
#   --build-arg TERRAFORM_SHA256=f85868798834558239f6148834884008f2722548f84034c9b0f62934b2d73ebb
# (TARGETARCH is set by BuildKit from --platform.)
ARG TERRAFORM_VERSION=1.9.8
ARG TERRAFORM_SHA256=186e0145f5e5f2eb97cbd785bc78f21bae4ef15119349f6ad4fa535b83b10df8
ARG TARGETARCH=amd64

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/*

RUN set -eu; \
    zip="terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip"; \
    curl -fsSL --retry 3 -o "/tmp/$zip" "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/$zip"; \
    echo "${TERRAFORM_SHA256}  /tmp/$zip" | sha256sum -c -; \
    unzip -q "/tmp/$zip" terraform -d /out; \
    /out/terraform version

# ---------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}

ARG TERRAFORM_VERSION=1.9.8

LABEL org.opencontainers.image.title="mlinfra" \
      org.opencontainers.image.description="Terraform plan/apply agent for GitHub Actions" \
      org.opencontainers.image.licenses="MIT" \
      io.mlinfra.terraform.version="${TERRAFORM_VERSION}"

# Runtime libraries only. git is left out: the agent reads repositories with libgit2 and the
# reference configuration uses local modules; add git here for git:: module sources.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libjansson4 libgit2-1.5 libsodium23 libyaml-0-2 tzdata \
 && rm -rf /var/lib/apt/lists/* /usr/share/man/* /var/log/apt /var/log/dpkg.log \
 && find /usr/share/doc -type f ! -name copyright -delete \
 && groupadd --system --gid 10001 mlinfra \
 && useradd --system --uid 10001 --gid mlinfra --home-dir /home/mlinfra --create-home \
      --shell /usr/sbin/nologin mlinfra

COPY --from=build /out/mlinfra /usr/local/bin/mlinfra
COPY --from=terraform /out/terraform /usr/local/bin/terraform

ENV MLINFRA_TERRAFORM=/usr/local/bin/terraform \
    TF_IN_AUTOMATION=1 \
    TF_INPUT=0 \
    CHECKPOINT_DISABLE=1

# The action runs the container as the runner's uid (so workspace files stay the runner's);
# run on its own, the image uses this unprivileged user.
USER 10001:10001
WORKDIR /home/mlinfra

ENTRYPOINT ["/usr/local/bin/mlinfra"]
CMD ["--help"]
