// Package deploy holds the platform's deployment artefacts — the container
// image, the compose file, the Helm chart rendered from the registry's
// topology, the kustomize base and overlays, and the Istio and CloudNativePG
// objects — and the tests that parse and validate them without a cluster.
package deploy
