package deploy_test

import (
	"github.com/secondopinion/platform/internal/app"

	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// updateGenerated rewrites the generated regions of the compose files from
// the topology instead of comparing them.
var updateGenerated = flag.Bool("update", false, "rewrite the generated regions of deploy/compose.yaml and deploy/compose/prometheus.yml")

const (
	composeFile    = "compose.yaml"
	prometheusFile = "compose/prometheus.yml"
	topologyPath   = "helm/secondopinion/topology.json"
	// The image every platform container runs, built from deploy/Dockerfile.
	platformDockerfile = "deploy/Dockerfile"
)

// TestComposeGenerated holds the generated regions of the compose files to
// what the topology makes of them; -update rewrites them.
func TestComposeGenerated(t *testing.T) {
	topo := readTopology(t)
	for file, regions := range map[string]map[string]string{
		composeFile: {
			"services": renderComposeServices(topo),
			"volumes":  renderComposeVolumes(topo),
		},
		prometheusFile: {"targets": renderPrometheusTargets(topo)},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		want := got
		for name, body := range regions {
			if want, err = spliceRegion(want, name, body); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
		switch {
		case *updateGenerated && want != got:
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", file)
		case want != got:
			t.Errorf("deploy/%s is not what %s makes of it: run go test ./deploy -run TestComposeGenerated -update", file, topologyPath)
		}
	}
}

// spliceRegion replaces the lines between "# BEGIN GENERATED name" and
// "# END GENERATED name" with body.
func spliceRegion(text, name, body string) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	begin, end := -1, -1
	for i, l := range lines {
		switch {
		case strings.Contains(l, "# BEGIN GENERATED "+name+":"):
			begin = i
		case strings.Contains(l, "# END GENERATED "+name):
			end = i
		}
	}
	if begin < 0 || end < begin {
		return "", fmt.Errorf("no BEGIN/END GENERATED %s markers", name)
	}
	return strings.Join(lines[:begin+1], "") + body + strings.Join(lines[end:], ""), nil
}

// renderComposeServices writes one service per workload of the topology:
// its target alone, its variables exactly, its peers by their service
// names. Secrets come from the x-dev-only anchors (*dev-<variable>), the
// optional ones from the shell; the shared variables from
// x-distributed-env.
func renderComposeServices(topo topology) string {
	var secrets []string
	for _, w := range topo.Workloads {
		if slices.ContainsFunc(w.Env, func(v app.Variable) bool { return v.Name == "SERVICE_SECRET" }) {
			secrets = append(secrets, w.Name+"="+devServiceSecret(w.Name))
		}
	}
	var b strings.Builder
	for _, w := range topo.Workloads {
		fmt.Fprintf(&b, "  %s:\n    <<: *workload\n", w.Name)
		fmt.Fprintf(&b, "    command: [\"serve\", %s, \"--migrate=false\"]\n", yamlString("--target="+w.Name))
		b.WriteString("    environment:\n      <<: *distributed-env\n")
		for _, v := range w.Env {
			var value string
			switch {
			case v.Peer != "":
				value = yamlString(fmt.Sprintf("http://%s:%d", v.Peer, topo.Port))
			case v.Name == "SERVICE_SECRET":
				value = yamlString(devServiceSecret(w.Name))
			case v.Name == "SERVICE_SECRETS":
				value = yamlString(strings.Join(secrets, ","))
			case v.Secret && !v.Required:
				value = yamlString("${" + v.Name + ":-}")
			default:
				value = "*dev-" + strings.ReplaceAll(strings.ToLower(v.Name), "_", "-")
			}
			fmt.Fprintf(&b, "      %s: %s\n", v.Name, value)
		}
		fmt.Fprintf(&b, "    volumes:\n      - %s-data:/data\n", w.Name)
		if w.Name == topo.edge() {
			fmt.Fprintf(&b, "    ports:\n      - %s\n", yamlString(fmt.Sprintf("127.0.0.1:%d:%d", topo.Port, topo.Port)))
		}
	}
	return b.String()
}

func renderComposeVolumes(topo topology) string {
	var b strings.Builder
	for _, w := range topo.Workloads {
		fmt.Fprintf(&b, "  %s-data:\n", w.Name)
	}
	return b.String()
}

func renderPrometheusTargets(topo topology) string {
	var b strings.Builder
	for _, w := range topo.Workloads {
		fmt.Fprintf(&b, "      - targets: [%s]\n        labels:\n          workload: %s\n",
			yamlString(fmt.Sprintf("%s:%d", w.Name, topo.MetricsPort)), w.Name)
	}
	return b.String()
}

func devServiceSecret(workload string) string { return "dev-only-service-secret-" + workload }

// yamlString quotes s as YAML reads a double-quoted scalar (JSON's form).
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// composeService is the part of a compose service the checks read.
type composeService struct {
	Image       string                    `json:"image"`
	Build       *composeBuild             `json:"build"`
	User        string                    `json:"user"`
	ReadOnly    bool                      `json:"read_only"`
	Profiles    []string                  `json:"profiles"`
	Command     []string                  `json:"command"`
	Environment map[string]any            `json:"environment"`
	DependsOn   map[string]map[string]any `json:"depends_on"`
	Volumes     []string                  `json:"volumes"`
	Ports       []string                  `json:"ports"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

type composeProject struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

func readCompose(t *testing.T) composeProject {
	t.Helper()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var p composeProject
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return p
}

// platform reports whether the service runs the platform's own image.
func (s composeService) platform() bool {
	return s.Build != nil && s.Build.Dockerfile == platformDockerfile
}

// env is the service's environment as the container gets it when the
// shell sets none of the variables compose interpolates.
func (s composeService) env() map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		switch v := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = interpolate(v)
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// enabledWith reports whether the service runs whenever one with the
// given profiles does: it has no profile, or shares each of them.
func (s composeService) enabledWith(profiles []string) bool {
	if len(s.Profiles) == 0 {
		return true
	}
	for _, p := range profiles {
		if !slices.Contains(s.Profiles, p) {
			return false
		}
	}
	return len(profiles) > 0
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}`)

// interpolate resolves compose's ${NAME} and ${NAME:-default} for an empty
// shell: each is its default.
func interpolate(s string) string {
	s = interpolation.ReplaceAllString(s, "$3")
	return strings.ReplaceAll(s, "$$", "$")
}

// pinnedImages are the backing services' images: the major (and minor)
// versions the architecture names, a full version pinned.
var pinnedImages = map[string]*regexp.Regexp{
	"postgres":   regexp.MustCompile(`^postgres:17\.\d+$`),
	"redis":      regexp.MustCompile(`^redis:7\.4\.\d+$`),
	"kafka":      regexp.MustCompile(`^apache/kafka:\d+\.\d+\.\d+$`),
	"nats":       regexp.MustCompile(`^nats:2\.\d+\.\d+$`),
	"jaeger":     regexp.MustCompile(`^jaegertracing/jaeger:2\.\d+\.\d+$`),
	"prometheus": regexp.MustCompile(`^prom/prometheus:v3\.\d+\.\d+$`),
}

func TestCompose(t *testing.T) {
	topo := readTopology(t)
	p := readCompose(t)

	for name, re := range pinnedImages {
		if s, ok := p.Services[name]; !ok || !re.MatchString(s.Image) {
			t.Errorf("service %s: image %q, want one matching %s", name, s.Image, re)
		}
	}
	if k := p.Services["kafka"].env(); k["KAFKA_PROCESS_ROLES"] == "" || k["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "" {
		t.Errorf("kafka runs without ZooKeeper only in KRaft mode: set KAFKA_PROCESS_ROLES and KAFKA_CONTROLLER_QUORUM_VOTERS")
	}
	if !slices.Contains(p.Services["nats"].Command, "-js") {
		t.Errorf("nats: JetStream (-js) is the bus the platform uses; command %v", p.Services["nats"].Command)
	}

	known := map[string]bool{}
	for _, v := range topo.Variables {
		known[v] = true
	}
	for name, s := range p.Services {
		image := interpolate(s.Image)
		if image == "" || strings.HasSuffix(image, ":latest") || !strings.Contains(image, ":") {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		for dep := range s.DependsOn {
			if d, ok := p.Services[dep]; !ok || !d.enabledWith(s.Profiles) {
				t.Errorf("service %s depends on %s, which does not run in its profiles %v", name, dep, s.Profiles)
			}
		}
		for _, v := range s.Volumes {
			if src, _, _ := strings.Cut(v, ":"); !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := p.Volumes[src]; !ok {
					t.Errorf("service %s mounts volume %s, which is not declared", name, src)
				}
			}
		}
		if !s.platform() {
			continue
		}
		if s.Build.Context != ".." {
			t.Errorf("service %s builds from %q: the image's context is the repository's root (..)", name, s.Build.Context)
		}
		if uid, _, _ := strings.Cut(s.User, ":"); uid != "1001" || !s.ReadOnly {
			t.Errorf("service %s: user %q, read_only %v; the platform runs as 1001 on a read-only root", name, s.User, s.ReadOnly)
		}
		env := s.env()
		for k, v := range env {
			if !known[k] {
				t.Errorf("service %s sets %s, which the binary does not read (topology variables)", name, k)
			}
			if topo.secrets()[k] && !devSecret(v) {
				t.Errorf("service %s: %s is not a dev value: a secret here is empty, a dev-only… value or a URL without a password", name, k)
			}
			checkHosts(t, p, name, s, k, v)
		}
		// migrate serves nothing: the shared variables are the serving
		// processes'.
		for _, v := range topo.Shared {
			if v.Required && env[v.Name] == "" && slices.Contains(s.Command, "serve") {
				t.Errorf("service %s: the shared %s is required", name, v.Name)
			}
		}
	}

	if s := p.Services["platform"]; !slices.Equal(s.Profiles, []string{"all"}) || !slices.Equal(s.Command, []string{"serve"}) || !s.platform() {
		t.Errorf("the all profile's platform service: profiles %v, command %v", s.Profiles, s.Command)
	}
	migrate := p.Services["migrate"]
	if !slices.Equal(migrate.Profiles, []string{"distributed"}) || !slices.Equal(migrate.Command, []string{"migrate", "--target=all"}) || !migrate.platform() {
		t.Errorf("the distributed profile's migrate service: profiles %v, command %v", migrate.Profiles, migrate.Command)
	}

	workloads := map[string]bool{}
	for _, w := range topo.Workloads {
		workloads[w.Name] = true
		s, ok := p.Services[w.Name]
		if !ok {
			t.Errorf("workload %s has no service", w.Name)
			continue
		}
		if !s.platform() || !slices.Equal(s.Profiles, []string{"distributed"}) {
			t.Errorf("workload %s: not the platform's image in the distributed profile (profiles %v)", w.Name, s.Profiles)
		}
		if want := []string{"serve", "--target=" + w.Name, "--migrate=false"}; !slices.Equal(s.Command, want) {
			t.Errorf("workload %s: command %v, want %v", w.Name, s.Command, want)
		}
		if s.DependsOn["migrate"]["condition"] != "service_completed_successfully" {
			t.Errorf("workload %s starts before the migrations are done: depends_on %v", w.Name, s.DependsOn)
		}
		env := s.env()
		var want []string
		for _, v := range topo.env(w) {
			want = append(want, v.Name)
			if v.Required && env[v.Name] == "" {
				t.Errorf("workload %s: the required %s is not set", w.Name, v.Name)
			}
			if v.Peer == "" {
				continue
			}
			if got, wantURL := env[v.Name], fmt.Sprintf("http://%s:%d", v.Peer, topo.Port); got != wantURL {
				t.Errorf("workload %s: %s=%q, want its peer's service %s", w.Name, v.Name, got, wantURL)
			}
		}
		got := keys(env)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("workload %s is given %v; the topology gives it %v", w.Name, got, want)
		}
		if published := len(s.Ports) > 0; published != (w.Name == topo.edge()) {
			t.Errorf("workload %s publishes %v: only the edge (%s) is reached from outside", w.Name, s.Ports, topo.edge())
		}
	}
	for name, s := range p.Services {
		if slices.Contains(s.Profiles, "distributed") && s.platform() && name != "migrate" && !workloads[name] {
			t.Errorf("service %s runs the platform in the distributed profile but is no workload of the topology", name)
		}
	}
	if edge := p.Services[topo.edge()]; !slices.Contains(edge.Ports, fmt.Sprintf("127.0.0.1:%d:%d", topo.Port, topo.Port)) {
		t.Errorf("the edge %s does not publish the public port %d: %v", topo.edge(), topo.Port, edge.Ports)
	}
	if all := p.Services["platform"]; !slices.Contains(all.Ports, fmt.Sprintf("127.0.0.1:%d:%d", topo.Port, topo.Port)) {
		t.Errorf("the all profile's platform does not publish the public port %d: %v", topo.Port, all.Ports)
	}

	checkPrometheus(t, topo, p)
}

// networkSchemes are those of the URLs that address a server.
var networkSchemes = map[string]bool{"http": true, "https": true, "postgres": true, "postgresql": true,
	"redis": true, "rediss": true, "nats": true, "tls": true, "s3": true}

// checkHosts holds a variable's addresses to the services of the file: a
// URL's host, or each host:port of a list, is a service that runs with
// this one.
func checkHosts(t *testing.T, p composeProject, name string, s composeService, k, v string) {
	t.Helper()
	var hosts []string
	if u, err := url.Parse(v); err == nil && networkSchemes[u.Scheme] {
		hosts = append(hosts, u.Hostname())
	} else if k == "KAFKA_BROKERS" && v != "" {
		for _, b := range strings.Split(v, ",") {
			h, _, _ := strings.Cut(strings.TrimSpace(b), ":")
			hosts = append(hosts, h)
		}
	}
	for _, h := range hosts {
		if peer, ok := p.Services[h]; !ok || !peer.enabledWith(s.Profiles) {
			t.Errorf("service %s: %s points at %s, not a service of its profiles %v", name, k, h, s.Profiles)
		}
	}
}

// devSecret reports whether v is a value a secret may have in a file
// everyone can read: none, a published dev value, or an address that
// carries no password.
func devSecret(v string) bool {
	if v == "" || strings.Contains(v, "dev-only") {
		return true
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return false
	}
	_, hasPassword := u.User.Password()
	return !hasPassword
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkPrometheus holds the scrape configuration to the platform's
// containers: every one's operations port is scraped.
func checkPrometheus(t *testing.T, topo topology, p composeProject) {
	t.Helper()
	mounted := false
	for _, v := range p.Services["prometheus"].Volumes {
		mounted = mounted || strings.HasPrefix(v, "./"+prometheusFile+":/etc/prometheus/prometheus.yml")
	}
	if !mounted {
		t.Errorf("prometheus does not read ./%s: volumes %v", prometheusFile, p.Services["prometheus"].Volumes)
	}
	b, err := os.ReadFile(prometheusFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", prometheusFile, err)
	}
	scraped := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %s; the platform serves /metrics", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				scraped[target] = true
			}
		}
	}
	want := []string{fmt.Sprintf("platform:%d", topo.MetricsPort)}
	for _, w := range topo.Workloads {
		want = append(want, fmt.Sprintf("%s:%d", w.Name, topo.MetricsPort))
	}
	for _, target := range want {
		if !scraped[target] {
			t.Errorf("prometheus does not scrape %s", target)
		}
	}
	for target := range scraped {
		if host, _, _ := strings.Cut(target, ":"); p.Services[host].Build == nil {
			t.Errorf("prometheus scrapes %s, which is not a platform service", target)
		}
	}
}
