import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kubernetesWrapperGoMod } from "../../env/binaries.ts";

const tagGoMod = `// This is a generated file. Do not edit directly.

module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/apiserver => ./staging/src/k8s.io/apiserver
	github.com/some/fork => github.com/other/fork v1.2.3
)
`;

describe("kubernetesWrapperGoMod", () => {
  const out = kubernetesWrapperGoMod("skiff.test/kube-apiserver", tagGoMod, "v1.36.3");

  it("requires the tag and copies its go and godebug lines", () => {
    assert.match(out, /^module skiff\.test\/kube-apiserver$/m);
    assert.match(out, /^go 1\.25\.0$/m);
    assert.match(out, /^godebug default=go1\.25$/m);
    assert.match(out, /^require k8s\.io\/kubernetes v1\.36\.3$/m);
  });

  it("replaces every staging module with its published v0 version, and nothing else", () => {
    const replaces = [...out.matchAll(/^\t(\S+) => (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    assert.deepEqual(replaces, [
      "k8s.io/api k8s.io/api v0.36.3",
      "k8s.io/apiserver k8s.io/apiserver v0.36.3",
      "k8s.io/client-go k8s.io/client-go v0.36.3",
    ]);
  });

  it("refuses a go.mod without staging replaces", () => {
    assert.throws(() => kubernetesWrapperGoMod("m", "module x\n\ngo 1.24\n", "v1.36.3"), /no \.\/staging replaces/);
  });
});
