package deploy_test

import (
	"bufio"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	pipelineFile = "../.gitlab-ci.yml"
	makefile     = "../Makefile"
	ciRun        = "../.ci/run"
	// The chart the deploy jobs install, from the repository's root.
	chartPath = "deploy/helm/secondopinion"
)

// The plan's stages, with the image built and scanned before any deploy.
var pipelineStages = []string{"test", "build", "image", "scan", "deploy-staging", "deploy-production"}

// pipelineKeywords are the top-level keys of .gitlab-ci.yml that are not
// jobs.
var pipelineKeywords = map[string]bool{"stages": true, "variables": true, "workflow": true, "default": true,
	"include": true, "image": true, "services": true, "cache": true, "before_script": true, "after_script": true}

// ciJob is one job after its extends are merged in, as GitLab runs it.
type ciJob struct {
	name string
	raw  map[string]any
}

func (j ciJob) stage() string {
	if s, ok := j.raw["stage"].(string); ok {
		return s
	}
	return "test" // GitLab's default
}

// lines are the job's shell lines: before_script, script, after_script.
func (j ciJob) lines() []string {
	var out []string
	for _, k := range []string{"before_script", "script", "after_script"} {
		switch v := j.raw[k].(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, l := range v {
				out = append(out, fmt.Sprint(l))
			}
		}
	}
	return out
}

func (j ciJob) script() string { return strings.Join(j.lines(), "\n") }

// images are the job's image and its services', by name.
func (j ciJob) images() []string {
	var out []string
	if img := ciImageName(j.raw["image"]); img != "" {
		out = append(out, img)
	}
	for _, s := range j.services() {
		out = append(out, s.name)
	}
	return out
}

type ciService struct{ name, alias, command string }

func (j ciJob) services() []ciService {
	var out []ciService
	list, _ := j.raw["services"].([]any)
	for _, s := range list {
		svc := ciService{name: ciImageName(s)}
		if m, ok := s.(map[string]any); ok {
			svc.alias, _ = m["alias"].(string)
			if cmd, ok := m["command"].([]any); ok {
				words := make([]string, len(cmd))
				for i, w := range cmd {
					words[i] = fmt.Sprint(w)
				}
				svc.command = strings.Join(words, " ")
			}
		}
		if svc.alias == "" {
			// GitLab's own alias: the image's name without tag or registry.
			n, _, _ := strings.Cut(svc.name, ":")
			svc.alias = n[strings.LastIndex(n, "/")+1:]
		}
		out = append(out, svc)
	}
	return out
}

func (j ciJob) variables() map[string]string {
	out := map[string]string{}
	vars, _ := j.raw["variables"].(map[string]any)
	for k, v := range vars {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// manual reports whether the job only ever runs by hand: when: manual on
// the job, or on every rule that lets it run.
func (j ciJob) manual() bool {
	if j.raw["when"] == "manual" {
		return true
	}
	rules, _ := j.raw["rules"].([]any)
	running := 0
	for _, r := range rules {
		m, _ := r.(map[string]any)
		switch m["when"] {
		case "never":
		case "manual":
			running++
		default:
			return false
		}
	}
	return running > 0
}

func ciImageName(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		s, _ := v["name"].(string)
		return s
	}
	return ""
}

type ciPipeline struct {
	stages    []string
	variables map[string]string
	jobs      map[string]ciJob
}

// expand resolves $NAME and ${NAME} from the pipeline's variables, as
// GitLab does in image names.
func (p ciPipeline) expand(s string) string {
	return os.Expand(s, func(k string) string { return p.variables[k] })
}

func readPipeline(t *testing.T) ciPipeline {
	t.Helper()
	b, err := os.ReadFile(pipelineFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", pipelineFile, err)
	}
	p := ciPipeline{variables: map[string]string{}, jobs: map[string]ciJob{}}
	stages, _ := doc["stages"].([]any)
	for _, s := range stages {
		p.stages = append(p.stages, fmt.Sprint(s))
	}
	vars, _ := doc["variables"].(map[string]any)
	for k, v := range vars {
		p.variables[k] = fmt.Sprint(v)
	}
	for name, v := range doc {
		body, ok := v.(map[string]any)
		if pipelineKeywords[name] || strings.HasPrefix(name, ".") || !ok {
			continue
		}
		p.jobs[name] = ciJob{name: name, raw: extend(t, doc, body, 0)}
	}
	if len(p.jobs) == 0 {
		t.Fatalf("%s: no jobs", pipelineFile)
	}
	return p
}

// extend merges the templates a job extends under its own keys: hashes
// deeply, anything else replaced, as GitLab does.
func extend(t *testing.T, doc, job map[string]any, depth int) map[string]any {
	if depth > 10 {
		t.Fatalf("%s: extends nest too deep", pipelineFile)
	}
	var parents []string
	switch e := job["extends"].(type) {
	case string:
		parents = []string{e}
	case []any:
		for _, p := range e {
			parents = append(parents, fmt.Sprint(p))
		}
	}
	out := map[string]any{}
	for _, name := range parents {
		parent, ok := doc[name].(map[string]any)
		if !ok {
			t.Fatalf("%s: extends %s, which is not defined", pipelineFile, name)
		}
		out = deepMerge(out, extend(t, doc, parent, depth+1))
	}
	own := maps.Clone(job)
	delete(own, "extends")
	return deepMerge(out, own)
}

func deepMerge(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = deepMerge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

var makeRule = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_./-]*(?:\s+[A-Za-z0-9][A-Za-z0-9_./-]*)*)\s*:(?:[^=]|$)`)

// makeTargets are the targets the Makefile has rules for.
func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(makefile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := makeRule.FindStringSubmatch(sc.Text()); m != nil {
			for _, target := range strings.Fields(m[1]) {
				out[target] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rules", makefile)
	}
	return out
}

var makeCall = regexp.MustCompile(`(?:^|[;&|({]\s*|\s)make((?:\s+[^\s;&|)}]+)+)`)

// makeCalls are the targets a shell text asks make for.
func makeCalls(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i == 0 || i > 0 && strings.ContainsAny(line[i-1:i], " \t") {
			line = line[:i] // a comment
		}
		for _, m := range makeCall.FindAllStringSubmatch(line, -1) {
			for _, arg := range strings.Fields(m[1]) {
				if !strings.HasPrefix(arg, "-") && !strings.Contains(arg, "=") {
					out = append(out, arg)
				}
			}
		}
	}
	return out
}

func TestPipeline(t *testing.T) {
	p := readPipeline(t)
	targets := makeTargets(t)

	if !slices.Equal(p.stages, pipelineStages) {
		t.Errorf("stages %v, want %v", p.stages, pipelineStages)
	}
	for _, j := range p.jobs {
		if !slices.Contains(p.stages, j.stage()) {
			t.Errorf("job %s: stage %q is not declared", j.name, j.stage())
		}
		for _, target := range makeCalls(j.script()) {
			if !targets[target] {
				t.Errorf("job %s runs make %s, which the Makefile has no rule for", j.name, target)
			}
		}
		for _, img := range j.images() {
			img = p.expand(img)
			name, tag, ok := strings.Cut(img[strings.LastIndex(img, "/")+1:], ":")
			if !ok || name == "" || tag == "" || tag == "latest" || !strings.ContainsAny(tag, "0123456789") {
				t.Errorf("job %s: image %q is not pinned to a version", j.name, img)
			}
		}
		if af, ok := j.raw["allow_failure"]; ok && af != false {
			t.Errorf("job %s may fail without failing the pipeline (allow_failure: %v)", j.name, af)
		}
	}

	checkTestJobs(t, p)
	checkBuildJobs(t, p, targets)
	checkDeployJobs(t, p)
}

// checkTestJobs holds the test stage to .ci/run: every make target it runs,
// gofmt, and the tests against the same services named by the same
// variables.
func checkTestJobs(t *testing.T, p ciPipeline) {
	t.Helper()
	b, err := os.ReadFile(ciRun)
	if err != nil {
		t.Fatal(err)
	}
	run := string(b)
	var testStage strings.Builder
	for _, j := range p.jobs {
		if j.stage() == "test" {
			testStage.WriteString(j.script() + "\n")
		}
	}
	called := makeCalls(testStage.String())
	for _, target := range makeCalls(run) {
		if !slices.Contains(called, target) {
			t.Errorf("the test stage does not run make %s, which .ci/run does", target)
		}
	}
	if strings.Contains(run, "gofmt -l") && !strings.Contains(testStage.String(), "gofmt -l") {
		t.Errorf("the test stage does not check gofmt, which .ci/run does")
	}

	// The job that runs the tests gets the integration services .ci/run
	// starts, under the variables .ci/run exports.
	var tests *ciJob
	for _, j := range p.jobs {
		if slices.Contains(makeCalls(j.script()), "test") {
			tests = &j
		}
	}
	if tests == nil {
		t.Fatal("no job runs make test")
	}
	vars := tests.variables()
	exported := regexp.MustCompile(`(TEST_[A-Z_]+)="([^"]*)"`).FindAllStringSubmatch(run, -1)
	if len(exported) == 0 {
		t.Fatalf("%s exports no TEST_ variables", ciRun)
	}
	aliases := map[string]ciService{}
	for _, s := range tests.services() {
		aliases[s.alias] = s
	}
	for _, e := range exported {
		name, local := e[1], e[2]
		got, ok := vars[name]
		if !ok {
			t.Errorf("job %s: %s is not set; .ci/run sets %q", tests.name, name, local)
			continue
		}
		lu, err := url.Parse(local)
		if err != nil || lu.Scheme == "" {
			if got != local {
				t.Errorf("job %s: %s=%q, .ci/run sets %q", tests.name, name, got, local)
			}
			continue
		}
		// The same server, at its service's alias instead of 127.0.0.1.
		gu, err := url.Parse(got)
		if err != nil || gu.Scheme != lu.Scheme || gu.Port() != lu.Port() || gu.Path != lu.Path || gu.User.String() != lu.User.String() {
			t.Errorf("job %s: %s=%q is not .ci/run's %q at a service", tests.name, name, got, local)
			continue
		}
		if _, ok := aliases[gu.Hostname()]; !ok {
			t.Errorf("job %s: %s points at %s, which is none of its services", tests.name, name, gu.Hostname())
		}
	}
	if pg, ok := aliases["postgres"]; !ok || !regexp.MustCompile(`^postgres:17\.\d+`).MatchString(pg.name) {
		t.Errorf("job %s: no PostgreSQL 17 service", tests.name)
	} else if m := regexp.MustCompile(`max_connections=(\d+)`).FindStringSubmatch(pg.command); m == nil {
		t.Errorf("job %s: PostgreSQL keeps its 100 connections; .ci/run raises them to 300", tests.name)
	} else if n, _ := strconv.Atoi(m[1]); n < 300 {
		t.Errorf("job %s: max_connections=%d; the end-to-end packages need 300", tests.name, n)
	}
	if nats, ok := aliases["nats"]; !ok || !strings.Contains(nats.command, "-js") {
		t.Errorf("job %s: no NATS service with JetStream (-js)", tests.name)
	}
}

// checkBuildJobs holds the build, image and scan jobs: the binary the
// Makefile writes is kept, the image is deploy/Dockerfile's, and the scan
// fails the pipeline on what the image job built.
func checkBuildJobs(t *testing.T, p ciPipeline, targets map[string]bool) {
	t.Helper()
	mk, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	out := regexp.MustCompile(`(?m)^build:.*\n(?:\t.*\n)*?\t.*-o (\S+)`).FindSubmatch(mk)
	if out == nil {
		t.Fatalf("%s: no build rule writing a binary (-o)", makefile)
	}
	built := false
	for _, j := range p.jobs {
		if !slices.Contains(makeCalls(j.script()), "build") {
			continue
		}
		built = true
		paths, _ := j.raw["artifacts"].(map[string]any)["paths"].([]any)
		if !slices.Contains(paths, any(string(out[1]))) {
			t.Errorf("job %s builds %s but does not keep it as an artifact (paths %v)", j.name, out[1], paths)
		}
	}
	if !built || !targets["build"] {
		t.Errorf("no job runs make build")
	}

	var image, scan *ciJob
	for _, j := range p.jobs {
		switch {
		case strings.Contains(j.script(), "deploy/Dockerfile"):
			image = &j
		case strings.Contains(j.script(), "trivy image"):
			scan = &j
		}
	}
	if image == nil || scan == nil {
		t.Fatalf("want a job building deploy/Dockerfile and a trivy image job; image %v, scan %v", image != nil, scan != nil)
	}
	if image.stage() != "image" || scan.stage() != "scan" {
		t.Errorf("image job in stage %s, scan job in stage %s", image.stage(), scan.stage())
	}
	if img := p.expand(image.images()[0]); !strings.Contains(img, "kaniko-project/executor") && !strings.Contains(img, "buildah") {
		t.Errorf("job %s builds with %s: a daemonless builder (kaniko, buildah) is the plan's runner", image.name, img)
	}
	if _, err := os.Stat("Dockerfile"); err != nil {
		t.Errorf("job %s builds deploy/Dockerfile: %v", image.name, err)
	}
	s := scan.script()
	if !regexp.MustCompile(`--exit-code[ =]1\b`).MatchString(s) {
		t.Errorf("job %s: without --exit-code 1 trivy never fails the pipeline", scan.name)
	}
	if sev := regexp.MustCompile(`--severity[ =](\S+)`).FindStringSubmatch(s); sev == nil ||
		!slices.Contains(strings.Split(sev[1], ","), "HIGH") || !slices.Contains(strings.Split(sev[1], ","), "CRITICAL") {
		t.Errorf("job %s does not fail on HIGH and CRITICAL findings", scan.name)
	}
	if af, ok := scan.raw["allow_failure"]; ok && af != false {
		t.Errorf("job %s: allow_failure %v; a finding must stop the deploys", scan.name, af)
	}
	// The scan reads the tarball the image job wrote.
	tar := regexp.MustCompile(`--tar-path[ =](\S+)`).FindStringSubmatch(image.script())
	input := regexp.MustCompile(`--input[ =](\S+)`).FindStringSubmatch(s)
	if tar == nil || input == nil || tar[1] != input[1] {
		t.Errorf("job %s does not scan the image job's tarball (tar %v, input %v)", scan.name, tar, input)
	}
}

// checkDeployJobs holds the deploy jobs to the chart: helm upgrade --install
// of deploy/helm/secondopinion, distributed, at the commit's image, with
// values the chart has; production only by hand.
func checkDeployJobs(t *testing.T, p ciPipeline) {
	t.Helper()
	values := map[string]any{}
	if b, err := os.ReadFile("../" + chartPath + "/values.yaml"); err == nil {
		if err := yaml.Unmarshal(b, &values); err != nil {
			t.Fatalf("%s/values.yaml: %v", chartPath, err)
		}
	}
	deployed := map[string]ciJob{}
	for _, j := range p.jobs {
		s := j.script()
		if !strings.Contains(s, "helm upgrade") {
			continue
		}
		env, _ := j.raw["environment"].(map[string]any)
		name, _ := env["name"].(string)
		deployed[name] = j
		if want := "deploy-" + name; j.stage() != want {
			t.Errorf("job %s deploys to %s in stage %s, want %s", j.name, name, j.stage(), want)
		}
		args, err := shellWords(s[strings.Index(s, "helm upgrade"):])
		if err != nil {
			t.Fatalf("job %s: %v", j.name, err)
		}
		if !slices.Contains(args, "--install") {
			t.Errorf("job %s: helm upgrade without --install fails on a first deploy", j.name)
		}
		// helm upgrade [flags] RELEASE CHART: the chart is the second
		// argument that is not a flag or a flag's value.
		var positional []string
		for i := 2; i < len(args); i++ {
			switch a := args[i]; {
			case a == "--install" || a == "--rollback-on-failure" || strings.HasPrefix(a, "--") && strings.Contains(a, "="):
			case strings.HasPrefix(a, "-"):
				i++
			default:
				positional = append(positional, a)
			}
		}
		if len(positional) < 2 || positional[1] != chartPath {
			t.Errorf("job %s installs %v, want the chart %s", j.name, positional, chartPath)
		} else if _, err := os.Stat("../" + chartPath); err == nil {
			if _, err := os.Stat("../" + chartPath + "/Chart.yaml"); err != nil {
				t.Errorf("job %s installs %s, which is no chart: %v", j.name, chartPath, err)
			}
		}
		sets := map[string]string{}
		for i, a := range args {
			if a == "--set" && i+1 < len(args) {
				k, v, _ := strings.Cut(args[i+1], "=")
				sets[k] = v
			}
		}
		if sets["image.tag"] != "$CI_COMMIT_SHA" || sets["deploymentMode"] != "distributed" {
			t.Errorf("job %s: --set %v; want image.tag=$CI_COMMIT_SHA and deploymentMode=distributed", j.name, sets)
		}
		for k := range sets {
			if len(values) > 0 && !hasValue(values, k) {
				t.Errorf("job %s sets %s, which %s/values.yaml does not have", j.name, k, chartPath)
			}
		}
	}
	// The deploy jobs' helm is the one the tests render the chart with.
	mk, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	if pinned := regexp.MustCompile(`(?m)^HELM\s*:=\s*(\S+)`).FindSubmatch(mk); pinned != nil {
		for _, j := range deployed {
			if !strings.Contains(j.script(), "go install "+string(pinned[1])) {
				t.Errorf("job %s does not install the Makefile's helm (%s)", j.name, pinned[1])
			}
		}
	}
	staging, ok := deployed["staging"]
	if !ok {
		t.Fatal("no job deploys to the staging environment")
	}
	production, ok := deployed["production"]
	if !ok {
		t.Fatal("no job deploys to the production environment")
	}
	if staging.manual() {
		t.Errorf("job %s: staging deploys by itself", staging.name)
	}
	if !production.manual() {
		t.Errorf("job %s: production must be deployed by hand (when: manual)", production.name)
	}
	if slices.Index(p.stages, production.stage()) <= slices.Index(p.stages, staging.stage()) {
		t.Errorf("production (%s) does not come after staging (%s)", production.stage(), staging.stage())
	}
}

// hasValue reports whether the dotted key is a value of the chart.
func hasValue(values map[string]any, key string) bool {
	var v any = values
	for _, part := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
