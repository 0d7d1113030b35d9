# Tailor's controller image: a static binary on distroless, running as non-root.
# Build: docker build --build-arg VERSION=v0.1.0 -t ghcr.io/tailor-sh/tailor:v0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/tailor-sh/tailor/internal/version.Version=${VERSION} -X github.com/tailor-sh/tailor/internal/version.Commit=${COMMIT}" \
      -o /out/tailor ./cmd/tailor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tailor /tailor
USER 65532:65532
ENTRYPOINT ["/tailor"]
