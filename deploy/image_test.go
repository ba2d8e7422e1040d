package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// imageSizeLimit bounds the image, uncompressed: measured at 130 MiB
// (the binary; 42 MiB gzip-compressed), the limit a quarter above. A
// dependency that makes the image outgrow it deserves a look.
const imageSizeLimit = 162 << 20

// The build arguments the test builds with, to find them in the labels.
var imageBuildArgs = map[string]string{"VERSION": "v0.0.0-test", "REVISION": "0123456789abcdef0123456789abcdef01234567"}

// dockerInstruction is one instruction of a Dockerfile, continuation
// lines joined.
type dockerInstruction struct {
	cmd  string // upper case
	args string
	line int
}

type dockerStage struct {
	from, name string
	instrs     []dockerInstruction
}

// parseDockerfile reads the stages of a Dockerfile: comment lines dropped,
// lines ending in a backslash joined to the next.
func parseDockerfile(t *testing.T, file string) []dockerStage {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerStage
	var pending strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && pending.Len() == 0 {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			pending.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(pending.String()), " ")
		pending.Reset()
		in := dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			w := strings.Fields(in.args)
			s := dockerStage{from: w[0]}
			if len(w) == 3 && strings.EqualFold(w[1], "AS") {
				s.name = w[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", file, in.line, in.cmd)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("%s: %d stages; want a build stage and the image's", file, len(stages))
	}
	return stages
}

// shellWords splits s as a shell does for plain words: quotes group and
// are removed, a backslash escapes outside single quotes.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// keyValues reads LABEL and ENV arguments: key=value pairs, values quoted
// as in a shell, ${NAME} expanded from vars.
func keyValues(t *testing.T, in dockerInstruction, vars map[string]string) [][2]string {
	t.Helper()
	words, err := shellWords(in.args)
	if err != nil {
		t.Fatalf("Dockerfile:%d: %v", in.line, err)
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("Dockerfile:%d: %s %q: want key=value pairs", in.line, in.cmd, w)
		}
		out = append(out, [2]string{k, os.Expand(v, func(n string) string { return vars[n] })})
	}
	return out
}

// execForm reads an exec-form (JSON) ENTRYPOINT or CMD. The shell form
// needs /bin/sh, which the image does not have.
func execForm(t *testing.T, in dockerInstruction) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(in.args), &out); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s is not the exec form [\"…\"]: the image has no shell to run it", in.line, in.cmd, in.args)
	}
	return out
}

// buildOutput is what the build stage leaves for the final one: files
// by their path in the stage, and folders it made.
type buildOutput struct {
	files map[string]string // stage path → local file
	dirs  map[string]bool
}

// runBuildStage does what the build stage's RUN instructions do, in a copy
// of the build context: the go build, with the stage's flags and
// environment, and the folders it makes. A RUN the test does not know
// fails it, so that the image the test assembles stays the Dockerfile's.
func runBuildStage(t *testing.T, stage dockerStage, context, out string) buildOutput {
	t.Helper()
	res := buildOutput{files: map[string]string{}, dirs: map[string]bool{}}
	env := map[string]string{}
	for _, in := range stage.instrs {
		switch in.cmd {
		case "WORKDIR", "COPY":
			// The context copy is the stage's working tree.
		case "ENV":
			for _, kv := range keyValues(t, in, env) {
				env[kv[0]] = kv[1]
			}
		case "RUN":
			for _, step := range strings.Split(in.args, "&&") {
				words, err := shellWords(step)
				if err != nil {
					t.Fatalf("Dockerfile:%d: %v", in.line, err)
				}
				runEnv := map[string]string{}
				for len(words) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[0]) {
					k, v, _ := strings.Cut(words[0], "=")
					runEnv[k] = v
					words = words[1:]
				}
				switch {
				case slices.Equal(words, []string{"go", "mod", "download"}):
					// The module cache of this machine stands in.
				case len(words) > 2 && words[0] == "go" && words[1] == "build":
					args := slices.Clone(words[1:])
					target := ""
					for i, a := range args {
						if a == "-o" && i+1 < len(args) {
							target, args[i+1] = args[i+1], filepath.Join(out, "secondopinion")
						}
					}
					if !path.IsAbs(target) {
						t.Fatalf("Dockerfile:%d: go build writes %q; want an absolute -o for the final stage to copy", in.line, target)
					}
					cmd := exec.Command("go", args...)
					cmd.Dir = context
					cmd.Env = goEnv(env, runEnv)
					if b, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("Dockerfile:%d: %s: %v\n%s", in.line, strings.Join(words, " "), err, b)
					}
					res.files[target] = filepath.Join(out, "secondopinion")
				case len(words) > 2 && words[0] == "mkdir" && words[1] == "-p":
					for _, d := range words[2:] {
						res.dirs[path.Clean(d)] = true
					}
				default:
					t.Fatalf("Dockerfile:%d: RUN %s: image_test.go does not know what this does; teach it", in.line, step)
				}
			}
		default:
			t.Fatalf("Dockerfile:%d: %s in the build stage: image_test.go does not know it; teach it", in.line, in.cmd)
		}
	}
	return res
}

// goEnv is this process's environment for a go build, without flags a
// test run may carry (-race, -cover), with the stage's variables.
func goEnv(stage, run map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if k == "GOFLAGS" {
			var keep []string
			for _, f := range strings.Fields(v) {
				if !strings.HasPrefix(f, "-race") && !strings.HasPrefix(f, "-cover") {
					keep = append(keep, f)
				}
			}
			kv = "GOFLAGS=" + strings.Join(keep, " ")
		}
		if _, ok := stage[k]; ok {
			continue
		}
		if _, ok := run[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for _, m := range []map[string]string{stage, run} {
		for k, v := range m {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// copyContext copies the repository as the builder receives it: what
// ../.dockerignore lets through.
func copyContext(t *testing.T, dst string) {
	t.Helper()
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		re     *regexp.Regexp
		negate bool
		prefix string // the literal start of the pattern
	}
	var rules []rule
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		r := rule{}
		if r.negate = strings.HasPrefix(l, "!"); r.negate {
			l = l[1:]
		}
		l = strings.Trim(path.Clean(l), "/")
		r.prefix = l[:strings.IndexAny(l+"*", "*?[")]
		r.re = regexp.MustCompile("^" + globRegexp(l) + "(/.*)?$")
		rules = append(rules, r)
	}
	excluded := func(rel string) bool {
		out := false
		for _, r := range rules {
			if r.re.MatchString(rel) {
				out = !r.negate
			}
		}
		return out
	}
	err = filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if excluded(rel) {
			if d.IsDir() && !slices.ContainsFunc(rules, func(r rule) bool {
				return r.negate && (strings.HasPrefix(r.prefix, rel+"/") || r.prefix == "" || strings.HasPrefix(rel, r.prefix))
			}) {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copy the build context: %v", err)
	}
}

// globRegexp is a .dockerignore pattern as a regular expression: ** any
// folders, * and ? within one.
func globRegexp(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case p[i] == '*':
			b.WriteString("[^/]*")
		case p[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	return b.String()
}

// assembled is the final stage as the test builds it.
type assembled struct {
	image  v1.Image
	config v1.Config
	binary string // the entrypoint's local build
}

// assembleImage builds the final stage on an empty image, as a builder
// does on scratch: a layer per COPY, the configuration from the
// instructions.
func assembleImage(t *testing.T, stage dockerStage, stages []dockerStage, built buildOutput, context string) assembled {
	t.Helper()
	if stage.from != "scratch" {
		t.Fatalf("the image's stage is FROM %s: image_test.go assembles it on an empty base, as FROM scratch", stage.from)
	}
	var cfg v1.Config
	cfg.Labels, cfg.ExposedPorts, cfg.Volumes = map[string]string{}, map[string]struct{}{}, map[string]struct{}{}
	vars := map[string]string{}
	var layers []v1.Layer
	var copied = map[string]string{} // image path → local source
	for _, in := range stage.instrs {
		switch in.cmd {
		case "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			vars[name] = def
			if v, ok := imageBuildArgs[name]; ok {
				vars[name] = v
			}
		case "LABEL":
			for _, kv := range keyValues(t, in, vars) {
				cfg.Labels[kv[0]] = kv[1]
			}
		case "ENV":
			for _, kv := range keyValues(t, in, vars) {
				cfg.Env = append(cfg.Env, kv[0]+"="+kv[1])
				vars[kv[0]] = kv[1]
			}
		case "WORKDIR":
			cfg.WorkingDir = in.args
		case "USER":
			cfg.User = in.args
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				cfg.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			var vols []string
			if err := json.Unmarshal([]byte(in.args), &vols); err != nil {
				vols = strings.Fields(in.args)
			}
			for _, v := range vols {
				cfg.Volumes[v] = struct{}{}
			}
		case "ENTRYPOINT":
			cfg.Entrypoint = execForm(t, in)
		case "CMD":
			cfg.Cmd = execForm(t, in)
		case "COPY":
			l, entries := copyLayer(t, in, stages, built, context)
			layers = append(layers, l)
			for k, v := range entries {
				copied[k] = v
			}
		default:
			// RUN has no shell to run in; HEALTHCHECK would need a client
			// program; anything else the test would not model.
			t.Fatalf("Dockerfile:%d: %s in the image's stage: image_test.go does not model it", in.line, in.cmd)
		}
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", runtime.GOARCH, cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	a := assembled{image: img, config: cfg}
	if len(cfg.Entrypoint) > 0 {
		a.binary = copied[cfg.Entrypoint[0]]
	}
	return a
}

// copyLayer is one COPY as a layer: its files with their modes and the
// owner --chown names. A source in a build stage is what that stage made
// (the go build, its mkdir), or else a file of its base image — Debian,
// as this machine, so the same path here stands in for it.
func copyLayer(t *testing.T, in dockerInstruction, stages []dockerStage, built buildOutput, context string) (v1.Layer, map[string]string) {
	t.Helper()
	words, err := shellWords(in.args)
	if err != nil {
		t.Fatalf("Dockerfile:%d: %v", in.line, err)
	}
	uid, gid, from := 0, 0, ""
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		k, v, _ := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
		switch k {
		case "from":
			from = v
		case "chown":
			u, g, _ := strings.Cut(v, ":")
			if uid, err = strconv.Atoi(u); err != nil {
				t.Fatalf("Dockerfile:%d: --chown=%s: a scratch image has no /etc/passwd, use numeric ids", in.line, v)
			}
			if gid = uid; g != "" {
				if gid, err = strconv.Atoi(g); err != nil {
					t.Fatalf("Dockerfile:%d: --chown=%s: numeric ids", in.line, v)
				}
			}
		default:
			t.Fatalf("Dockerfile:%d: COPY --%s: image_test.go does not model it", in.line, k)
		}
		words = words[1:]
	}
	if len(words) != 2 {
		t.Fatalf("Dockerfile:%d: COPY of %d sources: image_test.go models one", in.line, len(words)-1)
	}
	src, dst := path.Clean(words[0]), words[1]
	if strings.HasSuffix(dst, "/") {
		dst += path.Base(src)
	}
	dst = path.Clean(dst)

	var local string
	isDir := false
	switch {
	case from == "":
		local = filepath.Join(context, filepath.FromSlash(src))
	case !slices.ContainsFunc(stages, func(s dockerStage) bool { return s.name == from }):
		t.Fatalf("Dockerfile:%d: COPY --from=%s: no such stage (an image would be pulled)", in.line, from)
	case built.files[src] != "":
		local = built.files[src]
	case built.dirs[src]:
		isDir = true
	default:
		local = src
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	header := func(h *tar.Header) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	// The parents a builder makes, root's.
	var parents []string
	for dir := path.Dir(dst); dir != "/"; dir = path.Dir(dir) {
		parents = append([]string{dir}, parents...)
	}
	for _, dir := range parents {
		header(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(dir, "/") + "/", Mode: 0o755})
	}
	entries := map[string]string{}
	if isDir {
		header(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(dst, "/") + "/", Mode: 0o755, Uid: uid, Gid: gid})
	} else {
		info, err := os.Stat(local)
		if err != nil || !info.Mode().IsRegular() {
			t.Fatalf("Dockerfile:%d: COPY %s: %s is no file here (%v)", in.line, src, local, err)
		}
		data, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		header(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: int64(info.Mode().Perm()),
			Size: int64(len(data)), Uid: uid, Gid: gid})
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
		entries[dst] = local
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	// Uncompressed: gzip under the race detector would take half a
	// minute, and the registry's compression is the builder's business.
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer), entries
}

// imageFile is one entry of the image's flattened file system.
type imageFile struct {
	header *tar.Header
	data   []byte // of the entrypoint only
}

// flatten reads the image's file system as a container sees it.
func flatten(t *testing.T, img v1.Image, keep string) map[string]imageFile {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]imageFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), "/")
		f := imageFile{header: h}
		if name == keep {
			if f.data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		files[name] = f
	}
	return files
}

func TestImage(t *testing.T) {
	topo := readTopology(t)
	stages := parseDockerfile(t, "Dockerfile")
	build, final := stages[0], stages[len(stages)-1]

	// The builder is go.mod's Go release; every base is pinned.
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	if !strings.HasPrefix(build.from, "golang:"+string(goLine[1])+"-") && build.from != "golang:"+string(goLine[1]) {
		t.Errorf("the build stage is FROM %s; go.mod wants Go %s", build.from, goLine[1])
	}
	for _, s := range stages {
		if name, tag, ok := strings.Cut(s.from, ":"); s.from != "scratch" && (!ok || tag == "latest" || name == "") {
			t.Errorf("FROM %s is not pinned to a version", s.from)
		}
	}

	context, out := t.TempDir(), t.TempDir()
	copyContext(t, context)
	start := time.Now()
	built := runBuildStage(t, build, context, out)
	t.Logf("built the binary with the build stage's command in %v", time.Since(start).Round(time.Second))
	a := assembleImage(t, final, stages, built, context)
	cfg := a.config

	// Not root, by number (no /etc/passwd to name a user).
	uid, gid, _ := strings.Cut(cfg.User, ":")
	if uid != "1001" || gid != "1001" {
		t.Errorf("USER %q; want 1001:1001", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/secondopinion"}) || a.binary != built.files["/out/secondopinion"] || a.binary == "" {
		t.Errorf("ENTRYPOINT %v is not the binary the build stage makes", cfg.Entrypoint)
	}
	if !slices.Equal(cfg.Cmd, []string{"serve"}) {
		t.Errorf("CMD %v; want [serve]", cfg.Cmd)
	}
	wantPorts := []string{fmt.Sprintf("%d/tcp", topo.Port), fmt.Sprintf("%d/tcp", topo.MetricsPort)}
	gotPorts := slices.Sorted(func(yield func(string) bool) {
		for p := range cfg.ExposedPorts {
			if !yield(p) {
				return
			}
		}
	})
	slices.Sort(wantPorts)
	if !slices.Equal(gotPorts, wantPorts) {
		t.Errorf("EXPOSE %v; the topology's ports are %v", gotPorts, wantPorts)
	}
	env := map[string]string{}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if !slices.Contains(topo.Variables, k) {
			t.Errorf("ENV %s is not a variable the binary reads", k)
		}
	}
	dataDir := env["DATA_DIR"]
	if _, ok := cfg.Volumes[dataDir]; !ok || dataDir == "" || cfg.WorkingDir != dataDir {
		t.Errorf("DATA_DIR %q, VOLUME %v, WORKDIR %q: the data folder is the one volume and the working folder", dataDir, cfg.Volumes, cfg.WorkingDir)
	}
	if _, port, _ := strings.Cut(env["METRICS_LISTEN"], ":"); port != strconv.Itoa(topo.MetricsPort) || strings.HasPrefix(env["METRICS_LISTEN"], "127.") {
		t.Errorf("METRICS_LISTEN=%q; want every interface on the topology's metrics port %d", env["METRICS_LISTEN"], topo.MetricsPort)
	}
	checkLabels(t, cfg.Labels)

	files := flatten(t, a.image, cfg.Entrypoint[0])
	for name, f := range files {
		if base := path.Base(name); slices.Contains([]string{"sh", "bash", "ash", "dash", "busybox"}, base) {
			t.Errorf("the image has a shell: %s", name)
		}
		if f.header.Typeflag == tar.TypeReg && f.header.Mode&0o6000 != 0 {
			t.Errorf("%s is setuid or setgid", name)
		}
	}
	if d, ok := files[dataDir]; !ok || d.header.Typeflag != tar.TypeDir || strconv.Itoa(d.header.Uid) != uid {
		t.Errorf("%s is not a folder of uid %s in the image: the process could not write it", dataDir, uid)
	}
	if _, ok := files["/etc/ssl/certs/ca-certificates.crt"]; !ok {
		t.Errorf("the image has no CA certificates: S3, Stripe, SMTP and OTLP over TLS would fail")
	}
	entry, ok := files[cfg.Entrypoint[0]]
	if !ok || entry.header.Mode&0o111 == 0 {
		t.Fatalf("the entrypoint %s is not an executable file of the image", cfg.Entrypoint[0])
	}
	bin := filepath.Join(t.TempDir(), "secondopinion")
	if err := os.WriteFile(bin, entry.data, 0o755); err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin)

	// The size every node stores.
	var size int64
	for _, f := range files {
		size += f.header.Size
	}
	t.Logf("image: %.1f MiB uncompressed, limit %d MiB", float64(size)/(1<<20), imageSizeLimit>>20)
	if size > imageSizeLimit {
		t.Errorf("the image is %d MiB, over its limit of %d MiB", size>>20, imageSizeLimit>>20)
	}

	// It serialises as an OCI layout, and reads back the same.
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(a.image); err != nil {
		t.Fatalf("write the OCI layout: %v", err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := a.image.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 1 || manifest.Manifests[0].Digest != digest {
		t.Errorf("the OCI layout holds %v, not the image %s", manifest.Manifests, digest)
	}

	t.Run("runs", func(t *testing.T) { checkRuns(t, bin, cfg) })
	t.Run("compose environments load", func(t *testing.T) { checkComposeEnv(t, bin, cfg) })
}

// checkLabels holds the OCI labels to the build's arguments and the
// published API's licence.
func checkLabels(t *testing.T, labels map[string]string) {
	t.Helper()
	b, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info struct {
			License struct {
				Identifier string `json:"identifier"`
			} `json:"license"`
		} `json:"info"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"org.opencontainers.image.title":    "secondopinion",
		"org.opencontainers.image.licenses": doc.Info.License.Identifier,
		"org.opencontainers.image.version":  imageBuildArgs["VERSION"],
		"org.opencontainers.image.revision": imageBuildArgs["REVISION"],
	}
	for k, v := range want {
		if labels[k] != v || v == "" {
			t.Errorf("label %s=%q; want %q", k, labels[k], v)
		}
	}
	if !strings.HasPrefix(labels["org.opencontainers.image.source"], "https://") {
		t.Errorf("label org.opencontainers.image.source=%q; want the repository's URL", labels["org.opencontainers.image.source"])
	}
}

// checkStatic holds the binary to needing nothing of the image: no
// dynamic loader, no shared libraries.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the entrypoint is no ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): it would not start on scratch", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
}

// imageEnv is the process environment of a container of the image, with
// overrides (a mounted volume, test ports). Nothing else: no PATH, no
// HOME, and TMPDIR pointing nowhere, as scratch has no /tmp.
func imageEnv(cfg v1.Config, dataDir string, over map[string]string) []string {
	env := map[string]string{"TMPDIR": filepath.Join(dataDir, "no-tmp-in-the-image")}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range over {
		env[k] = v
	}
	env["DATA_DIR"] = dataDir
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// checkRuns runs the image's entrypoint as a container would: `version`,
// then its command (serve) on the image's environment until the probes
// answer on both ports.
func checkRuns(t *testing.T, bin string, cfg v1.Config) {
	data := t.TempDir()
	version := exec.Command(bin, append(cfg.Entrypoint[1:], "version")...)
	version.Env, version.Dir = imageEnv(cfg, data, nil), data
	got, err := version.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(got), "secondopinion ") {
		t.Fatalf("%s version: %v\n%s", cfg.Entrypoint[0], err, got)
	}

	var proc *testkit.Process
	var metrics string
	addr := testkit.OnFreePort(t, func(addr string) error {
		ln := testkit.Listen(t)
		metrics = ln.Addr().String()
		ln.Close()
		cmd := exec.Command(bin, append(slices.Clone(cfg.Entrypoint[1:]), cfg.Cmd...)...)
		cmd.Env = imageEnv(cfg, data, map[string]string{"LISTEN": addr, "METRICS_LISTEN": metrics})
		cmd.Dir = data
		var err error
		proc, err = testkit.StartProcess(cmd, `"msg":"listening"`, 2*time.Minute)
		return err
	})
	defer func() {
		if !proc.Stop(syscall.SIGTERM, 30*time.Second) {
			t.Errorf("serve did not stop on SIGTERM:\n%s", proc.Output.String())
		}
	}()
	for _, base := range []string{addr, metrics} {
		resp, err := http.Get("http://" + base + "/api/health")
		if err != nil {
			t.Fatalf("GET %s/api/health: %v\n%s", base, err, proc.Output.String())
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s/api/health: %s", base, resp.Status)
		}
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/metrics: %s", metrics, resp.Status)
	}
}

// checkComposeEnv loads the configuration of every platform container of
// deploy/compose.yaml with the image's binary: a dev key of the wrong
// length or a malformed URL fails here, not at `compose up`.
func checkComposeEnv(t *testing.T, bin string, cfg v1.Config) {
	p := readCompose(t)
	for name, s := range p.Services {
		if !s.platform() {
			continue
		}
		data := t.TempDir()
		cmd := exec.Command(bin, append(slices.Clone(cfg.Entrypoint[1:]), "config")...)
		cmd.Env, cmd.Dir = imageEnv(cfg, data, s.env()), data
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("service %s: its environment does not load: %v\n%s", name, err, out)
		}
	}
}
