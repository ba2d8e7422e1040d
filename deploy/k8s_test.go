package deploy_test

import (
	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/config"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	istiosec "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// updateBase rewrites the kustomize base from a fresh render of the chart
// instead of comparing them.
var updateBase = flag.Bool("update-base", false, "rewrite deploy/kustomize/base/secondopinion.yaml from the chart")

const (
	chartDir       = "helm/secondopinion"
	chartName      = "secondopinion"
	kustomizeBase  = "kustomize/base/secondopinion.yaml"
	existingSecret = "secondopinion" // the chart's default existingSecret
	baseRelease    = "secondopinion"
	baseNamespace  = "secondopinion"
	baseHeader     = "# Generated: helm template " + baseRelease + " deploy/" + chartDir + " --namespace " + baseNamespace +
		" --set deploymentMode=distributed\n# Do not edit; regenerate with go test ./deploy -run TestKustomizeBaseIsTheChart -update-base\n"
)

func k8sSnake(workload string) string { return strings.ReplaceAll(workload, "-", "_") }

// chartRender is one way of installing the chart: the values it is given
// and what they imply for the objects.
type chartRender struct {
	name, release, namespace string
	mode                     string // distributed or all
	istio, cnpg, monitor     bool
	layout                   string // the CNPG layout: perService or shared
}

func (c chartRender) sets() []string {
	sets := []string{"deploymentMode=" + c.mode}
	if c.istio {
		sets = append(sets, "istio.enabled=true")
	}
	if c.cnpg {
		sets = append(sets, "cnpg.enabled=true", "cnpg.layout="+c.layout)
	}
	if c.monitor {
		sets = append(sets, "serviceMonitor.enabled=true")
	}
	return sets
}

func (c chartRender) args() []string {
	var out []string
	for _, s := range c.sets() {
		out = append(out, "--set", s)
	}
	return out
}

// fullname is the chart's name prefix: the release, or release-chart.
func (c chartRender) fullname() string {
	if strings.Contains(c.release, chartName) {
		return c.release
	}
	return c.release + "-" + chartName
}

// resource is the name of a workload's Deployment, Service, ServiceAccount
// and policies; in all mode the one set of them is the release's.
func (c chartRender) resource(workload string) string {
	if c.mode == "all" {
		return c.fullname()
	}
	return c.fullname() + "-" + workload
}

func (c chartRender) component(workload string) string {
	if c.mode == "all" {
		return "all"
	}
	return workload
}

func (c chartRender) dbCluster(workload string) string {
	if c.layout == "shared" {
		return c.fullname() + "-db"
	}
	return c.fullname() + "-" + workload + "-db"
}

// secretSource is where a workload's secret variable must come from: its
// store's URL from its own CNPG Cluster's app Secret (one Cluster per
// store), everything else from existingSecret by <WORKLOAD>_<VARIABLE>, or
// by the variable's name when it already starts with <WORKLOAD>_.
func (c chartRender) secretSource(workload string, v app.Variable) corev1.SecretKeySelector {
	if v.Name == "DATABASE_URL" && c.cnpg && c.layout == "perService" {
		return k8sSecretRef(c.dbCluster(workload)+"-app", "uri", false)
	}
	prefix := config.EnvName(workload) + "_"
	key := v.Name
	if !strings.HasPrefix(key, prefix) {
		key = prefix + key
	}
	return k8sSecretRef(existingSecret, key, !v.Required)
}

func k8sSecretRef(name, key string, optional bool) corev1.SecretKeySelector {
	return corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}
}

// The CloudNativePG Go module is not served to this build, so these are
// the postgresql.cnpg.io/v1 fields the chart uses, as the CNPG API
// reference defines them (api/v1 cluster_types.go, database_types.go,
// scheduledbackup_types.go, and barman-cloud's
// BarmanObjectStoreConfiguration). Decoding refuses unknown fields, so a
// misspelt field, or one these structs lack, fails the test: add a field
// here only from the reference.
type cnpgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              cnpgClusterSpec `json:"spec"`
}

type cnpgClusterSpec struct {
	Instances int               `json:"instances"`
	ImageName string            `json:"imageName,omitempty"`
	Storage   cnpgStorage       `json:"storage"`
	Bootstrap *cnpgBootstrap    `json:"bootstrap,omitempty"`
	Managed   *cnpgManaged      `json:"managed,omitempty"`
	Backup    *cnpgBackupConfig `json:"backup,omitempty"`
}

type cnpgStorage struct {
	Size         string  `json:"size"`
	StorageClass *string `json:"storageClass,omitempty"`
}

type cnpgBootstrap struct {
	InitDB *struct {
		Database string `json:"database"`
		Owner    string `json:"owner"`
	} `json:"initdb,omitempty"`
}

type cnpgManaged struct {
	Roles []cnpgRole `json:"roles"`
}

type cnpgRole struct {
	Name           string                       `json:"name"`
	Ensure         string                       `json:"ensure,omitempty"`
	Login          bool                         `json:"login,omitempty"`
	PasswordSecret *corev1.LocalObjectReference `json:"passwordSecret,omitempty"`
}

type cnpgBackupConfig struct {
	RetentionPolicy   string            `json:"retentionPolicy,omitempty"`
	BarmanObjectStore *cnpgBarmanConfig `json:"barmanObjectStore,omitempty"`
}

type cnpgBarmanConfig struct {
	DestinationPath string `json:"destinationPath"`
	EndpointURL     string `json:"endpointURL,omitempty"`
	S3Credentials   *struct {
		AccessKeyID     *cnpgSecretKey `json:"accessKeyId,omitempty"`
		SecretAccessKey *cnpgSecretKey `json:"secretAccessKey,omitempty"`
	} `json:"s3Credentials,omitempty"`
	Wal  *cnpgCompression `json:"wal,omitempty"`
	Data *cnpgCompression `json:"data,omitempty"`
}

type cnpgSecretKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type cnpgCompression struct {
	Compression string `json:"compression,omitempty"`
}

type cnpgScheduledBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Schedule             string                      `json:"schedule"`
		Cluster              corev1.LocalObjectReference `json:"cluster"`
		BackupOwnerReference string                      `json:"backupOwnerReference,omitempty"`
	} `json:"spec"`
}

type cnpgDatabase struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Cluster       corev1.LocalObjectReference `json:"cluster"`
		Name          string                      `json:"name"`
		Owner         string                      `json:"owner"`
		Ensure        string                      `json:"ensure,omitempty"`
		ReclaimPolicy string                      `json:"databaseReclaimPolicy,omitempty"`
	} `json:"spec"`
}

// k8sKinds decodes each kind the chart and the overlays may render, from
// JSON, by apiVersion/kind, refusing unknown fields; a kind missing here
// fails.
var k8sKinds = map[string]func([]byte) (any, metav1.Object, error){
	"v1/ConfigMap":                             k8sStrict[corev1.ConfigMap],
	"v1/Namespace":                             k8sStrict[corev1.Namespace],
	"v1/Service":                               k8sStrict[corev1.Service],
	"v1/ServiceAccount":                        k8sStrict[corev1.ServiceAccount],
	"apps/v1/Deployment":                       k8sStrict[appsv1.Deployment],
	"autoscaling/v2/HorizontalPodAutoscaler":   k8sStrict[autoscalingv2.HorizontalPodAutoscaler],
	"policy/v1/PodDisruptionBudget":            k8sStrict[policyv1.PodDisruptionBudget],
	"networking.k8s.io/v1/NetworkPolicy":       k8sStrict[networkingv1.NetworkPolicy],
	"monitoring.coreos.com/v1/ServiceMonitor":  k8sStrict[monitoringv1.ServiceMonitor],
	"postgresql.cnpg.io/v1/Cluster":            k8sStrict[cnpgCluster],
	"postgresql.cnpg.io/v1/ScheduledBackup":    k8sStrict[cnpgScheduledBackup],
	"postgresql.cnpg.io/v1/Database":           k8sStrict[cnpgDatabase],
	"networking.istio.io/v1/Gateway":           k8sIstio(func(o *istionet.Gateway) proto.Message { return &o.Spec }),
	"networking.istio.io/v1/VirtualService":    k8sIstio(func(o *istionet.VirtualService) proto.Message { return &o.Spec }),
	"networking.istio.io/v1/DestinationRule":   k8sIstio(func(o *istionet.DestinationRule) proto.Message { return &o.Spec }),
	"security.istio.io/v1/PeerAuthentication":  k8sIstio(func(o *istiosec.PeerAuthentication) proto.Message { return &o.Spec }),
	"security.istio.io/v1/AuthorizationPolicy": k8sIstio(func(o *istiosec.AuthorizationPolicy) proto.Message { return &o.Spec }),
}

// k8sStrict decodes a document (as JSON) into T, refusing unknown fields.
func k8sStrict[T any, PT interface {
	*T
	metav1.Object
}](doc []byte) (any, metav1.Object, error) {
	v := PT(new(T))
	return v, v, k8sDecodeJSON(doc, v)
}

func k8sDecodeJSON(doc []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// k8sIstio decodes an Istio object. Its spec is a protobuf message whose
// own JSON decoding lets unknown fields pass, so the envelope is decoded
// strictly, and the spec again with protojson, which refuses them.
func k8sIstio[T any, PT interface {
	*T
	metav1.Object
}](spec func(PT) proto.Message) func([]byte) (any, metav1.Object, error) {
	return func(doc []byte) (any, metav1.Object, error) {
		var envelope struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
			Spec            json.RawMessage   `json:"spec"`
		}
		v := PT(new(T))
		if err := k8sDecodeJSON(doc, &envelope); err != nil {
			return v, v, err
		}
		if err := json.Unmarshal(doc, v); err != nil {
			return v, v, err
		}
		if err := protojson.Unmarshal(envelope.Spec, spec(v)); err != nil {
			return v, v, fmt.Errorf("spec: %w", err)
		}
		return v, v, nil
	}
}

// k8sObjects are the decoded objects of one render, by kind and name.
type k8sObjects struct {
	byKind map[string]map[string]any
	meta   []k8sMeta
}

type k8sMeta struct {
	kind string
	obj  metav1.Object
}

func decodeK8sObjects(t *testing.T, source string, data []byte) k8sObjects {
	t.Helper()
	objs := k8sObjects{byKind: map[string]map[string]any{}}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: split documents: %v", source, err)
		}
		// Duplicate keys are refused here, unknown fields by the decoders.
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			t.Fatalf("%s: %v\n%s", source, err, doc)
		}
		if string(js) == "null" {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		decode, ok := k8sKinds[tm.APIVersion+"/"+tm.Kind]
		if !ok {
			t.Errorf("%s: %s %s is a kind the tests do not know: decode it in k8sKinds", source, tm.APIVersion, tm.Kind)
			continue
		}
		v, meta, err := decode(js)
		if err != nil {
			t.Errorf("%s: %s: %v", source, tm.Kind, err)
			continue
		}
		if objs.byKind[tm.Kind] == nil {
			objs.byKind[tm.Kind] = map[string]any{}
		}
		if _, dup := objs.byKind[tm.Kind][meta.GetName()]; dup {
			t.Errorf("%s: two %s named %s", source, tm.Kind, meta.GetName())
		}
		objs.byKind[tm.Kind][meta.GetName()] = v
		objs.meta = append(objs.meta, k8sMeta{tm.Kind, meta})
	}
	return objs
}

// k8sGet is the object of a kind and name, or nil with the test failed.
func k8sGet[T any](t *testing.T, objs k8sObjects, kind, name string) *T {
	t.Helper()
	v, ok := objs.byKind[kind][name]
	if !ok {
		t.Errorf("no %s %s", kind, name)
		return nil
	}
	return v.(*T)
}

// k8sAll is every object of a kind, by name order.
func k8sAll[T any](objs k8sObjects, kind string) []*T {
	var out []*T
	for _, name := range slices.Sorted(maps.Keys(objs.byKind[kind])) {
		out = append(out, objs.byKind[kind][name].(*T))
	}
	return out
}

// k8sTool finds a command-line tool: in the repository's .bin (make tools),
// then on PATH. Without it the test is skipped, or fails where
// TEST_REQUIRE_SERVICES=1 (CI) says every tool must be there.
func k8sTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := filepath.Abs(filepath.Join("..", ".bin", name)); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found in .bin or on PATH (make tools installs helm; kubectl brings kustomize)", name)
	if os.Getenv("TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func k8sRun(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.Bytes()
}

func helmTemplate(t *testing.T, helm string, c chartRender) []byte {
	t.Helper()
	args := append([]string{"template", c.release, chartDir, "--namespace", c.namespace}, c.args()...)
	return k8sRun(t, helm, args...)
}

// k8sRenders are the ways the chart is checked: both modes, bare and with
// every integration, both CNPG layouts; release names other than the
// chart's, so that no name is taken for granted.
var k8sRenders = []chartRender{
	{name: "distributed", release: baseRelease, namespace: baseNamespace, mode: "distributed"},
	{name: "distributed-mesh-perService", release: "clinic", namespace: "health", mode: "distributed", istio: true, cnpg: true, monitor: true, layout: "perService"},
	{name: "distributed-mesh-shared", release: "clinic", namespace: "health", mode: "distributed", istio: true, cnpg: true, monitor: true, layout: "shared"},
	{name: "all", release: baseRelease, namespace: baseNamespace, mode: "all"},
	{name: "all-mesh-perService", release: "clinic", namespace: "health", mode: "all", istio: true, cnpg: true, monitor: true, layout: "perService"},
}

func TestHelmLint(t *testing.T) {
	t.Parallel()
	helm := k8sTool(t, "helm")
	for _, c := range k8sRenders {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			k8sRun(t, helm, append([]string{"lint", "--strict", chartDir, "--namespace", c.namespace}, c.args()...)...)
		})
	}
}

// TestHelmTemplate renders the chart every way and holds each render to the
// topology.
func TestHelmTemplate(t *testing.T) {
	t.Parallel()
	helm := k8sTool(t, "helm")
	topo := readTopology(t)
	for _, c := range k8sRenders {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs := decodeK8sObjects(t, c.name, helmTemplate(t, helm, c))
			checkK8sRender(t, topo, c, objs)
		})
	}
}

// TestKustomizeBaseIsTheChart holds the kustomize base to a fresh render of
// the chart in distributed mode with its default values: the same objects.
func TestKustomizeBaseIsTheChart(t *testing.T) {
	t.Parallel()
	helm := k8sTool(t, "helm")
	c := k8sRenders[0]
	want := append([]byte(baseHeader), helmTemplate(t, helm, c)...)
	if *updateBase {
		if err := os.WriteFile(kustomizeBase, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(kustomizeBase)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not the chart's render (a template, values.yaml or topology.json changed): "+
			"regenerate it with go test ./deploy -run TestKustomizeBaseIsTheChart -update-base\n%s", kustomizeBase, k8sFirstDiff(got, want))
	}
}

func k8sFirstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n  committed: %s\n  rendered:  %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("committed %d lines, rendered %d", len(g), len(w))
}

// k8sKustomization is what the tests read of an overlay's kustomization.
type k8sKustomization struct {
	Namespace string `json:"namespace"`
	Images    []struct {
		Name   string `json:"name"`
		NewTag string `json:"newTag"`
	} `json:"images"`
}

// TestKustomizeOverlays builds every overlay and holds it to the topology
// as the chart is held, in the overlay's namespace; production runs more
// replicas than dev, with limits equal to requests.
func TestKustomizeOverlays(t *testing.T) {
	t.Parallel()
	kubectl := k8sTool(t, "kubectl")
	topo := readTopology(t)
	overlays, err := filepath.Glob("kustomize/overlays/*")
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays under kustomize/overlays: %v", err)
	}
	var mu sync.Mutex
	built := map[string]k8sObjects{}
	t.Run("build", func(t *testing.T) {
		for _, dir := range overlays {
			t.Run(filepath.Base(dir), func(t *testing.T) {
				t.Parallel()
				objs := checkK8sOverlay(t, topo, kubectl, dir)
				mu.Lock()
				defer mu.Unlock()
				built[filepath.Base(dir)] = objs
			})
		}
	})
	dev, prod := built["dev"], built["production"]
	if dev.byKind == nil || prod.byKind == nil {
		t.Fatalf("want the overlays dev and production, got %v", slices.Sorted(maps.Keys(built)))
	}
	for _, h := range k8sAll[autoscalingv2.HorizontalPodAutoscaler](prod, "HorizontalPodAutoscaler") {
		d := k8sGet[autoscalingv2.HorizontalPodAutoscaler](t, dev, "HorizontalPodAutoscaler", h.Name)
		if d == nil || h.Spec.MinReplicas == nil || d.Spec.MinReplicas == nil {
			continue
		}
		if *h.Spec.MinReplicas <= *d.Spec.MinReplicas || h.Spec.MaxReplicas < d.Spec.MaxReplicas {
			t.Errorf("%s: production %d–%d replicas, dev %d–%d: production must run more", h.Name,
				*h.Spec.MinReplicas, h.Spec.MaxReplicas, *d.Spec.MinReplicas, d.Spec.MaxReplicas)
		}
	}
	for _, d := range k8sAll[appsv1.Deployment](prod, "Deployment") {
		for _, ctr := range slices.Concat(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers) {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := ctr.Resources.Requests[r], ctr.Resources.Limits[r]
				if req.Cmp(lim) != 0 {
					t.Errorf("production %s/%s: %s request %s, limit %s: production's limits equal its requests", d.Name, ctr.Name, r, req.String(), lim.String())
				}
			}
		}
	}
}

// checkK8sOverlay builds an overlay and holds it to the topology as the
// chart is held, in the overlay's namespace, running the image it names.
func checkK8sOverlay(t *testing.T, topo topology, kubectl, dir string) k8sObjects {
	name := filepath.Base(dir)
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k k8sKustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	if k.Namespace == "" || len(k.Images) != 1 || k.Images[0].NewTag == "" || k.Images[0].NewTag == "latest" {
		t.Fatalf("%s: want a namespace and one image with a version tag, got %+v", dir, k)
	}
	objs := decodeK8sObjects(t, dir, k8sRun(t, kubectl, "kustomize", dir))
	if ns := k8sGet[corev1.Namespace](t, objs, "Namespace", k.Namespace); ns != nil &&
		ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("%s: namespace %s does not enforce the restricted Pod Security Standard", name, k.Namespace)
	}
	delete(objs.byKind, "Namespace")
	objs.meta = slices.DeleteFunc(objs.meta, func(m k8sMeta) bool { return m.kind == "Namespace" })
	checkK8sRender(t, topo, chartRender{name: name, release: baseRelease, namespace: k.Namespace, mode: "distributed"}, objs)
	want := k.Images[0].Name + ":" + k.Images[0].NewTag
	for _, d := range k8sAll[appsv1.Deployment](objs, "Deployment") {
		for _, ctr := range slices.Concat(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers) {
			if ctr.Image != want {
				t.Errorf("%s: %s/%s runs %s, want %s", name, d.Name, ctr.Name, ctr.Image, want)
			}
		}
	}
	return objs
}

// checkK8sRender holds one render (the chart's or an overlay's) to the
// topology.
func checkK8sRender(t *testing.T, topo topology, c chartRender, objs k8sObjects) {
	for _, m := range objs.meta {
		if m.obj.GetNamespace() != c.namespace {
			t.Errorf("%s %s: namespace %q, want %q", m.kind, m.obj.GetName(), m.obj.GetNamespace(), c.namespace)
		}
	}
	cm := k8sGet[corev1.ConfigMap](t, objs, "ConfigMap", c.fullname()+"-config")
	if cm != nil {
		secrets := topo.secrets()
		for name := range cm.Data {
			if !slices.Contains(topo.Variables, name) {
				t.Errorf("ConfigMap %s: %s is not a variable of secondopinion", cm.Name, name)
			}
			if secrets[name] {
				t.Errorf("ConfigMap %s holds the secret %s: a secret comes from a Secret only", cm.Name, name)
			}
		}
	}
	units := topo.Workloads
	if c.mode == "all" {
		units = []app.Workload{{Name: "all"}}
	}
	for _, kind := range []string{"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} {
		if got := len(objs.byKind[kind]); got != len(units) {
			t.Errorf("%d %s objects, want one per workload (%d)", got, kind, len(units))
		}
	}
	edge := topo.edge()
	for _, w := range units {
		d := k8sGet[appsv1.Deployment](t, objs, "Deployment", c.resource(w.Name))
		if d != nil {
			checkK8sPod(t, topo, c, objs, w, d)
		}
		checkK8sService(t, topo, c, objs, w.Name)
		checkK8sScaling(t, c, objs, w.Name)
		checkK8sNetworkPolicy(t, topo, c, objs, w, w.Name == edge || c.mode == "all")
		if c.istio {
			checkK8sMesh(t, topo, c, objs, w, w.Name == edge || c.mode == "all")
		}
	}
	if c.istio {
		checkK8sRoutes(t, topo, c, objs, edge)
	} else if n := len(objs.byKind["AuthorizationPolicy"]) + len(objs.byKind["VirtualService"]); n > 0 {
		t.Errorf("%d Istio objects with Istio off", n)
	}
	if c.cnpg {
		checkK8sDatabases(t, topo, c, objs)
	} else if n := len(objs.byKind["Cluster"]); n > 0 {
		t.Errorf("%d CNPG Clusters with CNPG off", n)
	}
	if c.monitor {
		checkK8sServiceMonitor(t, c, objs)
	}
}

func checkK8sPod(t *testing.T, topo topology, c chartRender, objs k8sObjects, w app.Workload, d *appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	want := map[string]string{"app.kubernetes.io/name": chartName, "app.kubernetes.io/instance": c.release, "app.kubernetes.io/component": c.component(w.Name)}
	if !maps.Equal(d.Spec.Selector.MatchLabels, want) {
		t.Errorf("Deployment %s: selector %v, want %v", d.Name, d.Spec.Selector.MatchLabels, want)
	}
	if spec.ServiceAccountName != c.resource(w.Name) {
		t.Errorf("Deployment %s: service account %q, want its own %q", d.Name, spec.ServiceAccountName, c.resource(w.Name))
	}
	k8sGet[corev1.ServiceAccount](t, objs, "ServiceAccount", c.resource(w.Name))
	psc := spec.SecurityContext
	if psc == nil || !k8sTrue(psc.RunAsNonRoot) || k8sInt(psc.RunAsUser) != 1001 || k8sInt(psc.RunAsGroup) != 1001 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("Deployment %s: pod securityContext %+v: want runAsNonRoot, uid/gid 1001, seccomp RuntimeDefault", d.Name, psc)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("Deployment %s names %d replicas: the HPA owns the count", d.Name, *d.Spec.Replicas)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", d.Name, len(spec.Containers))
	}
	serve, migrate := []string{"serve", "--target=" + w.Name, "--migrate=false"}, []string{"migrate", "--target=" + w.Name}
	store := w.Store
	if c.mode == "all" {
		serve, migrate, store = []string{"serve", "--migrate=false"}, []string{"migrate"}, true
	}
	if !slices.Equal(spec.Containers[0].Args, serve) {
		t.Errorf("Deployment %s: args %q, want %q", d.Name, spec.Containers[0].Args, serve)
	}
	switch {
	case store && (len(spec.InitContainers) != 1 || !slices.Equal(spec.InitContainers[0].Args, migrate)):
		t.Errorf("Deployment %s: want one init container running %q before the service", d.Name, migrate)
	case !store && len(spec.InitContainers) != 0:
		t.Errorf("Deployment %s: %s has no store, nothing to migrate", d.Name, w.Name)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, ctr := range slices.Concat(spec.InitContainers, spec.Containers) {
		where := d.Name + "/" + ctr.Name
		checkK8sContainer(t, where, ctr)
		env := checkK8sEnv(t, topo, c, objs, w, where, ctr)
		dataDir := env["DATA_DIR"]
		mounted := false
		for _, m := range ctr.VolumeMounts {
			if m.MountPath == dataDir.Value && volumes[m.Name].EmptyDir != nil {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: DATA_DIR %q is not an emptyDir mount", where, dataDir.Value)
		}
	}
	ctr := spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{ctr.LivenessProbe, "/api/health"}, {ctr.ReadinessProbe, "/api/ready"}} {
		probe, path := p.probe, p.path
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || ports[probe.HTTPGet.Port.String()] != int32(topo.MetricsPort) {
			t.Errorf("%s: want a probe GET %s on the metrics port %d, got %+v", d.Name, path, topo.MetricsPort, probe)
		}
	}
	if ports["http"] != int32(topo.Port) {
		t.Errorf("%s: port http is %d, want %d", d.Name, ports["http"], topo.Port)
	}
}

func checkK8sContainer(t *testing.T, where string, ctr corev1.Container) {
	t.Helper()
	if !strings.Contains(ctr.Image, "@sha256:") { // a digest pins it
		if i := strings.LastIndex(ctr.Image, ":"); i < strings.LastIndex(ctr.Image, "/") || ctr.Image[i+1:] == "latest" {
			t.Errorf("%s: image %q: name a version, not latest or none", where, ctr.Image)
		}
	}
	sc := ctr.SecurityContext
	if sc == nil || !k8sTrue(sc.RunAsNonRoot) || k8sInt(sc.RunAsUser) != 1001 || k8sInt(sc.RunAsGroup) != 1001 ||
		!k8sTrue(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: securityContext %+v: want runAsNonRoot, uid/gid 1001, read-only root, no privilege escalation, "+
			"capabilities dropped, seccomp RuntimeDefault", where, sc)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := ctr.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", where, r)
		}
		if _, ok := ctr.Resources.Limits[r]; !ok {
			t.Errorf("%s: no %s limit", where, r)
		}
	}
}

// checkK8sEnv holds a container's environment to the topology and returns
// it by name: only variables of the binary; every secret from the Secret
// it belongs in, never a literal or a ConfigMap; every peer at its Service;
// every required variable set.
func checkK8sEnv(t *testing.T, topo topology, c chartRender, objs k8sObjects, w app.Workload, where string, ctr corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	secrets := topo.secrets()
	env := map[string]corev1.EnvVar{}
	for _, e := range ctr.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s: %s set twice", where, e.Name)
		}
		env[e.Name] = e
		if !slices.Contains(topo.Variables, e.Name) {
			t.Errorf("%s: %s is not a variable of secondopinion (topology.json variables)", where, e.Name)
		}
		switch {
		case secrets[e.Name] && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil):
			t.Errorf("%s: the secret %s is not from a secretKeyRef", where, e.Name)
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			t.Errorf("%s: %s from a ConfigMap key: non-secret configuration is the envFrom ConfigMap", where, e.Name)
		}
	}
	for _, from := range ctr.EnvFrom {
		if from.ConfigMapRef == nil || from.ConfigMapRef.Name != c.fullname()+"-config" {
			t.Errorf("%s: envFrom %+v: only the release's ConfigMap", where, from)
			continue
		}
		if cm := k8sGet[corev1.ConfigMap](t, objs, "ConfigMap", from.ConfigMapRef.Name); cm != nil {
			for name, value := range cm.Data {
				if _, set := env[name]; !set {
					env[name] = corev1.EnvVar{Name: name, Value: value}
				}
			}
		}
	}
	want := map[string]corev1.EnvVar{
		"DATA_DIR":       {Name: "DATA_DIR"}, // any path: checked as an emptyDir mount
		"METRICS_LISTEN": {Name: "METRICS_LISTEN", Value: fmt.Sprintf(":%d", topo.MetricsPort)},
	}
	for _, v := range topo.Shared {
		switch {
		case v.Secret:
			want[v.Name] = corev1.EnvVar{Name: v.Name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: new(k8sSecretRef(existingSecret, v.Name, !v.Required))}}
		case v.Required && want[v.Name].Name == "":
			want[v.Name] = corev1.EnvVar{Name: v.Name}
		}
	}
	if c.mode == "all" {
		// Every target in one process: peers are in it, and SERVICE_SECRET
		// serves only calls to another process; each store has its own
		// <TARGET>_DATABASE_URL.
		for _, x := range topo.Workloads {
			for _, v := range x.Env {
				name := v.Name
				if name == "DATABASE_URL" {
					name = config.EnvName(x.Name) + "_DATABASE_URL"
				}
				switch {
				case v.Peer != "" || name == "SERVICE_SECRET" || want[name].Name != "":
				case v.Secret:
					want[name] = corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: new(c.secretSource(x.Name, v))}}
				case v.Required:
					want[name] = corev1.EnvVar{Name: name}
				}
			}
		}
	} else {
		for _, v := range w.Env {
			switch {
			case v.Peer != "":
				want[v.Name] = corev1.EnvVar{Name: v.Name, Value: fmt.Sprintf("http://%s:%d", c.resource(v.Peer), topo.Port)}
				k8sGet[corev1.Service](t, objs, "Service", c.resource(v.Peer))
			case v.Secret:
				want[v.Name] = corev1.EnvVar{Name: v.Name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: new(c.secretSource(w.Name, v))}}
			case v.Required:
				want[v.Name] = corev1.EnvVar{Name: v.Name}
			}
		}
	}
	for name, e := range want {
		got, ok := env[name]
		switch {
		case !ok:
			t.Errorf("%s: %s is not set", where, name)
		case e.ValueFrom != nil && (got.ValueFrom == nil || got.ValueFrom.SecretKeyRef == nil ||
			!k8sSameRef(*got.ValueFrom.SecretKeyRef, *e.ValueFrom.SecretKeyRef)):
			t.Errorf("%s: %s from %s, want secretKeyRef %s", where, name, k8sDescribe(got), k8sDescribe(e))
		case e.Value != "" && got.Value != e.Value:
			t.Errorf("%s: %s=%q, want %q", where, name, got.Value, e.Value)
		}
	}
	return env
}

func k8sSameRef(a, b corev1.SecretKeySelector) bool {
	return a.Name == b.Name && a.Key == b.Key && k8sTrue(a.Optional) == k8sTrue(b.Optional)
}

func k8sDescribe(e corev1.EnvVar) string {
	if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
		r := e.ValueFrom.SecretKeyRef
		return fmt.Sprintf("{%s %s optional=%v}", r.Name, r.Key, k8sTrue(r.Optional))
	}
	return fmt.Sprintf("a literal %q", e.Value)
}

func checkK8sService(t *testing.T, topo topology, c chartRender, objs k8sObjects, workload string) {
	t.Helper()
	s := k8sGet[corev1.Service](t, objs, "Service", c.resource(workload))
	if s == nil {
		return
	}
	if s.Spec.Selector["app.kubernetes.io/component"] != c.component(workload) {
		t.Errorf("Service %s selects %v", s.Name, s.Spec.Selector)
	}
	ports := map[string]int32{}
	for _, p := range s.Spec.Ports {
		ports[p.Name] = p.Port
	}
	if ports["http"] != int32(topo.Port) || ports["http-metrics"] != int32(topo.MetricsPort) {
		t.Errorf("Service %s: ports %v, want http %d and http-metrics %d", s.Name, ports, topo.Port, topo.MetricsPort)
	}
}

func checkK8sScaling(t *testing.T, c chartRender, objs k8sObjects, workload string) {
	t.Helper()
	if h := k8sGet[autoscalingv2.HorizontalPodAutoscaler](t, objs, "HorizontalPodAutoscaler", c.resource(workload)); h != nil {
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != c.resource(workload) ||
			h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HorizontalPodAutoscaler %s: scales %s %s from %v to %d", h.Name, h.Spec.ScaleTargetRef.Kind,
				h.Spec.ScaleTargetRef.Name, k8sDeref(h.Spec.MinReplicas), h.Spec.MaxReplicas)
		}
	}
	if p := k8sGet[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", c.resource(workload)); p != nil {
		if p.Spec.Selector == nil || p.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != c.component(workload) {
			t.Errorf("PodDisruptionBudget %s selects %v", p.Name, p.Spec.Selector)
		}
	}
}

// k8sComponents are the workloads a pod selector of the release picks, or
// false if it picks anything else.
func k8sComponents(c chartRender, s *metav1.LabelSelector) ([]string, bool) {
	if s == nil || s.MatchLabels["app.kubernetes.io/name"] != chartName || s.MatchLabels["app.kubernetes.io/instance"] != c.release {
		return nil, false
	}
	if v, ok := s.MatchLabels["app.kubernetes.io/component"]; ok && len(s.MatchExpressions) == 0 {
		return []string{v}, true
	}
	if len(s.MatchExpressions) != 1 || s.MatchExpressions[0].Key != "app.kubernetes.io/component" ||
		s.MatchExpressions[0].Operator != metav1.LabelSelectorOpIn {
		return nil, false
	}
	return s.MatchExpressions[0].Values, true
}

func k8sPorts(ports []networkingv1.NetworkPolicyPort) []int {
	var out []int
	for _, p := range ports {
		if p.Port == nil {
			out = append(out, 0) // every port
			continue
		}
		out = append(out, p.Port.IntValue())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkK8sNetworkPolicy holds a workload's NetworkPolicy to the topology:
// in only from its callers (the public through the ingress gateway for the
// edge) and Prometheus; out only to its peers, DNS, the data services (by
// address), its CNPG cluster and istiod.
func checkK8sNetworkPolicy(t *testing.T, topo topology, c chartRender, objs k8sObjects, w app.Workload, edge bool) {
	t.Helper()
	np := k8sGet[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", c.resource(w.Name))
	if np == nil {
		return
	}
	if got, ok := k8sComponents(c, &np.Spec.PodSelector); !ok || !slices.Equal(got, []string{c.component(w.Name)}) {
		t.Errorf("NetworkPolicy %s selects %+v, want the pods of %s", np.Name, np.Spec.PodSelector, w.Name)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy %s: policy types %v, want Ingress and Egress", np.Name, np.Spec.PolicyTypes)
	}
	var callers []string
	public, monitoring := false, false
	for _, r := range np.Spec.Ingress {
		ports := k8sPorts(r.Ports)
		if len(r.From) == 0 {
			t.Errorf("NetworkPolicy %s admits everyone to %v", np.Name, ports)
		}
		for _, from := range r.From {
			comps, release := k8sComponents(c, from.PodSelector)
			switch {
			case release && from.NamespaceSelector == nil && from.IPBlock == nil && slices.Equal(ports, []int{topo.Port}):
				callers = append(callers, comps...)
			case from.PodSelector == nil && from.NamespaceSelector != nil && slices.Equal(ports, []int{topo.MetricsPort}):
				monitoring = true
			case edge && from.PodSelector != nil && from.NamespaceSelector != nil && slices.Equal(ports, []int{topo.Port}):
				public = true
			default:
				t.Errorf("NetworkPolicy %s admits %+v to %v", np.Name, from, ports)
			}
		}
	}
	slices.Sort(callers)
	wantCallers := slices.Clone(w.Callers)
	if c.mode == "all" {
		wantCallers = nil
	}
	if !slices.Equal(slices.Compact(callers), wantCallers) {
		t.Errorf("NetworkPolicy %s admits %v, want its callers %v", np.Name, callers, wantCallers)
	}
	if edge != public || !monitoring {
		t.Errorf("NetworkPolicy %s: public %v (want %v), monitoring %v (want true)", np.Name, public, edge, monitoring)
	}
	var peers []string
	dns, db := false, false
	for _, r := range np.Spec.Egress {
		ports := k8sPorts(r.Ports)
		if len(r.To) == 0 || len(ports) == 0 || slices.Contains(ports, 0) {
			t.Errorf("NetworkPolicy %s lets out to %+v on %v: name the destination and its ports", np.Name, r.To, ports)
		}
		for _, to := range r.To {
			comps, release := k8sComponents(c, to.PodSelector)
			switch {
			case release && to.NamespaceSelector == nil && slices.Equal(ports, []int{topo.Port}):
				peers = append(peers, comps...)
			case to.NamespaceSelector != nil && to.PodSelector != nil && slices.Equal(ports, []int{53}):
				dns = true
			case to.IPBlock != nil && to.PodSelector == nil && to.NamespaceSelector == nil:
				// A data service by address.
			case c.cnpg && to.PodSelector != nil && to.NamespaceSelector == nil && slices.Equal(ports, []int{5432}):
				if cl := to.PodSelector.MatchLabels["cnpg.io/cluster"]; (c.mode != "all" && cl != c.dbCluster(w.Name)) || cl == "" {
					t.Errorf("NetworkPolicy %s lets out to the database cluster %q, not its own", np.Name, cl)
				}
				db = true
			case c.istio && to.NamespaceSelector != nil && to.PodSelector != nil && to.PodSelector.MatchLabels["app"] == "istiod":
			default:
				t.Errorf("NetworkPolicy %s lets out to %+v on %v", np.Name, to, ports)
			}
		}
	}
	slices.Sort(peers)
	wantPeers := peersOf(w)
	if c.mode == "all" {
		wantPeers = nil
	}
	if !slices.Equal(slices.Compact(peers), wantPeers) {
		t.Errorf("NetworkPolicy %s lets out to %v, want its peers %v", np.Name, peers, wantPeers)
	}
	if !dns {
		t.Errorf("NetworkPolicy %s: no DNS", np.Name)
	}
	if want := c.cnpg && (w.Store || c.mode == "all"); db != want {
		t.Errorf("NetworkPolicy %s: out to its CNPG cluster %v, want %v", np.Name, db, want)
	}
}

// checkK8sMesh holds a workload's Istio objects to the topology: its
// AuthorizationPolicy admits exactly its callers' service accounts (and
// the ingress gateway's at the edge), and its DestinationRule ejects
// failing replicas and bounds connections.
func checkK8sMesh(t *testing.T, topo topology, c chartRender, objs k8sObjects, w app.Workload, edge bool) {
	t.Helper()
	if ap := k8sGet[istiosec.AuthorizationPolicy](t, objs, "AuthorizationPolicy", c.resource(w.Name)); ap != nil {
		if ap.Spec.GetSelector().GetMatchLabels()["app.kubernetes.io/component"] != c.component(w.Name) || ap.Spec.GetAction().String() != "ALLOW" {
			t.Errorf("AuthorizationPolicy %s: selector %v, action %v", ap.Name, ap.Spec.GetSelector(), ap.Spec.GetAction())
		}
		var principals []string
		for _, r := range ap.Spec.GetRules() {
			var ports []string
			for _, to := range r.GetTo() {
				ports = append(ports, to.GetOperation().GetPorts()...)
			}
			if len(r.GetFrom()) == 0 {
				if !slices.Equal(ports, []string{fmt.Sprint(topo.MetricsPort)}) {
					t.Errorf("AuthorizationPolicy %s admits anyone to %v: only the metrics port", ap.Name, ports)
				}
				continue
			}
			if !slices.Equal(ports, []string{fmt.Sprint(topo.Port)}) {
				t.Errorf("AuthorizationPolicy %s admits its callers to %v, want %d", ap.Name, ports, topo.Port)
			}
			for _, from := range r.GetFrom() {
				principals = append(principals, from.GetSource().GetPrincipals()...)
			}
		}
		var want []string
		if c.mode != "all" {
			for _, caller := range w.Callers {
				want = append(want, fmt.Sprintf("cluster.local/ns/%s/sa/%s", c.namespace, c.resource(caller)))
				k8sGet[corev1.ServiceAccount](t, objs, "ServiceAccount", c.resource(caller))
			}
		}
		if edge {
			want = append(want, "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account")
		}
		slices.Sort(want)
		slices.Sort(principals)
		if !slices.Equal(principals, want) {
			t.Errorf("AuthorizationPolicy %s admits %v, want exactly %v", ap.Name, principals, want)
		}
	}
	if dr := k8sGet[istionet.DestinationRule](t, objs, "DestinationRule", c.resource(w.Name)); dr != nil {
		tp := dr.Spec.GetTrafficPolicy()
		if dr.Spec.GetHost() != k8sHost(c, w.Name) || tp.GetOutlierDetection() == nil || tp.GetConnectionPool() == nil ||
			tp.GetTls().GetMode().String() != "ISTIO_MUTUAL" {
			t.Errorf("DestinationRule %s: host %s, traffic policy %v", dr.Name, dr.Spec.GetHost(), tp)
		}
	}
}

func k8sHost(c chartRender, workload string) string {
	return c.resource(workload) + "." + c.namespace + ".svc.cluster.local"
}

// checkK8sRoutes holds the mesh's edge to the topology: a VirtualService
// per public route prefix, to the edge workload, through the release's
// Gateway; STRICT mTLS for the release's pods.
func checkK8sRoutes(t *testing.T, topo topology, c chartRender, objs k8sObjects, edge string) {
	t.Helper()
	gw := k8sGet[istionet.Gateway](t, objs, "Gateway", c.fullname())
	routed := map[string]bool{}
	for _, vs := range k8sAll[istionet.VirtualService](objs, "VirtualService") {
		if gw != nil && !slices.Contains(vs.Spec.GetGateways(), c.namespace+"/"+gw.Name) {
			t.Errorf("VirtualService %s is not bound to the Gateway %s", vs.Name, gw.Name)
		}
		for _, h := range vs.Spec.GetHttp() {
			var exact, prefix []string
			for _, m := range h.GetMatch() {
				exact = append(exact, m.GetUri().GetExact())
				prefix = append(prefix, m.GetUri().GetPrefix())
			}
			routes := h.GetRoute()
			if len(routes) != 1 || routes[0].GetDestination().GetHost() != k8sHost(c, edge) ||
				routes[0].GetDestination().GetPort().GetNumber() != uint32(topo.Port) {
				t.Errorf("VirtualService %s routes to %v, want the edge %s:%d", vs.Name, routes, k8sHost(c, edge), topo.Port)
			}
			if len(exact) != 2 || exact[0] == "" || prefix[1] != exact[0]+"/" {
				t.Errorf("VirtualService %s matches %v %v, want a prefix and what lies under it", vs.Name, exact, prefix)
				continue
			}
			routed[exact[0]] = true
		}
	}
	want := map[string]bool{}
	for _, w := range topo.Workloads {
		for _, r := range w.Routes {
			want[r] = true
			if !routed[r] {
				t.Errorf("%s's route %s has no VirtualService", w.Name, r)
			}
		}
	}
	for r := range routed {
		if !want[r] {
			t.Errorf("VirtualService for %s, which no workload serves", r)
		}
	}
	strict := false
	for _, pa := range k8sAll[istiosec.PeerAuthentication](objs, "PeerAuthentication") {
		sel := pa.Spec.GetSelector().GetMatchLabels()
		if pa.Spec.GetMtls().GetMode().String() == "STRICT" && sel["app.kubernetes.io/instance"] == c.release && sel["app.kubernetes.io/component"] == "" {
			strict = true
		}
	}
	if !strict {
		t.Error("no STRICT PeerAuthentication for the release's pods")
	}
}

// checkK8sDatabases holds the CNPG objects to the topology: every workload
// with a store has its database — its own Cluster (perService) or a
// Database in the shared one — backed up to object storage on a schedule.
func checkK8sDatabases(t *testing.T, topo topology, c chartRender, objs k8sObjects) {
	t.Helper()
	var roles map[string]cnpgRole
	clusters := map[string]bool{}
	for _, w := range topo.Workloads {
		if !w.Store {
			continue
		}
		name := c.dbCluster(w.Name)
		clusters[name] = true
		cl := k8sGet[cnpgCluster](t, objs, "Cluster", name)
		if cl == nil {
			continue
		}
		if c.layout == "shared" {
			if roles == nil {
				roles = map[string]cnpgRole{}
				if cl.Spec.Managed != nil {
					for _, r := range cl.Spec.Managed.Roles {
						roles[r.Name] = r
					}
				}
			}
			if r := roles[k8sSnake(w.Name)]; !r.Login || r.PasswordSecret == nil || r.PasswordSecret.Name == "" {
				t.Errorf("Cluster %s: no login role %s with a password Secret for %s", name, k8sSnake(w.Name), w.Name)
			}
			if db := k8sGet[cnpgDatabase](t, objs, "Database", c.fullname()+"-"+w.Name); db != nil &&
				(db.Spec.Cluster.Name != name || db.Spec.Name != k8sSnake(w.Name) || db.Spec.Owner != k8sSnake(w.Name)) {
				t.Errorf("Database %s: %+v, want %s owned by %s in %s", db.Name, db.Spec, k8sSnake(w.Name), k8sSnake(w.Name), name)
			}
		} else if b := cl.Spec.Bootstrap; b == nil || b.InitDB == nil || b.InitDB.Database != k8sSnake(w.Name) || b.InitDB.Owner != k8sSnake(w.Name) {
			t.Errorf("Cluster %s: bootstrap %+v, want the database %s owned by %s", name, b, k8sSnake(w.Name), k8sSnake(w.Name))
		}
	}
	for name := range clusters {
		cl := k8sGet[cnpgCluster](t, objs, "Cluster", name)
		if cl == nil {
			continue
		}
		if cl.Spec.Instances < 1 || cl.Spec.Storage.Size == "" {
			t.Errorf("Cluster %s: %d instances, storage %q", name, cl.Spec.Instances, cl.Spec.Storage.Size)
		}
		b := cl.Spec.Backup
		if b == nil || b.BarmanObjectStore == nil || b.BarmanObjectStore.DestinationPath == "" || b.BarmanObjectStore.S3Credentials == nil ||
			b.BarmanObjectStore.S3Credentials.AccessKeyID == nil || b.BarmanObjectStore.S3Credentials.AccessKeyID.Name == "" ||
			b.BarmanObjectStore.S3Credentials.SecretAccessKey == nil || b.BarmanObjectStore.S3Credentials.SecretAccessKey.Name == "" {
			t.Errorf("Cluster %s: want backups to object storage with S3 credentials from a Secret, got %+v", name, b)
		}
		if sb := k8sGet[cnpgScheduledBackup](t, objs, "ScheduledBackup", name); sb != nil && (sb.Spec.Cluster.Name != name || sb.Spec.Schedule == "") {
			t.Errorf("ScheduledBackup %s: %+v", sb.Name, sb.Spec)
		}
	}
	if n := len(objs.byKind["Cluster"]); n != len(clusters) {
		t.Errorf("%d Clusters, want %d", n, len(clusters))
	}
}

func checkK8sServiceMonitor(t *testing.T, c chartRender, objs k8sObjects) {
	t.Helper()
	sm := k8sGet[monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor", c.fullname())
	if sm == nil {
		return
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http-metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %s: endpoints %+v, want http-metrics /metrics", sm.Name, sm.Spec.Endpoints)
	}
	for _, s := range k8sAll[corev1.Service](objs, "Service") {
		for k, v := range sm.Spec.Selector.MatchLabels {
			if s.Labels[k] != v {
				t.Errorf("ServiceMonitor %s does not select the Service %s", sm.Name, s.Name)
			}
		}
	}
}

func k8sDeref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func k8sTrue(b *bool) bool { return b != nil && *b }

func k8sInt(i *int64) int64 {
	if i == nil {
		return -1
	}
	return *i
}
