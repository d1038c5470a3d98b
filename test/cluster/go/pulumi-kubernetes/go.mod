// Pins the source of pulumi-resource-kubernetes 4.25.0 for the real-engine tests (see docs/pulumi.md). The
// provider is not built through this module: its module zips (verified against go.sum) are copied side by side
// and built with the provider's own go.mod, whose `replace …/sdk/v4 => ../sdk` then resolves. The provider commit
// is tag v4.25.0 (the proxy answers 403 for other release commits).
module kroute.test/cluster/pulumi-kubernetes

go 1.26.0

require (
	github.com/pulumi/pulumi-kubernetes/provider/v4 v4.0.0-20260115033456-f47bc2d6f199
	github.com/pulumi/pulumi-kubernetes/sdk/v4 v4.25.0
)
