package deploy

import (
	"slices"
	"strings"
	"testing"
)

// readmeInstall is one `helm install` of the README's Deploy section, as
// `helm template` arguments.
type readmeInstall struct {
	release, namespace string
	args               []string // --set, -f, … as written
}

// readmeDeployment is what the README's Deploy section tells the reader to
// run: its helm installs, and the keys of each Secret it makes with kubectl.
type readmeDeployment struct {
	installs []readmeInstall
	secrets  map[string]map[string]bool
}

// readmeDeploy reads the shell commands of the README's Deploy section, so
// that the chart's test renders exactly what the reader is told to install.
func readmeDeploy(t testing.TB) readmeDeployment {
	t.Helper()
	readme := readFile(t, "../README.md")
	i := strings.Index(readme, "\n## Deploy\n")
	if i < 0 {
		t.Fatal("README.md has no ## Deploy section")
	}
	section := readme[i+1:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	out := readmeDeployment{secrets: map[string]map[string]bool{}}
	for _, cmd := range shellCommands(section) {
		words := shellWords(cmd)
		switch {
		case len(words) >= 4 && words[0] == "helm" && words[1] == "install":
			if words[3] != chartPath {
				t.Fatalf("README: %q installs %s, want %s", cmd, words[3], chartPath)
			}
			in := readmeInstall{release: words[2], namespace: "default"}
			for k := 4; k < len(words); k++ {
				switch w := words[k]; w {
				case "--namespace", "-n":
					k++
					in.namespace = words[k]
				case "--create-namespace", "--wait":
				default:
					in.args = append(in.args, w)
				}
			}
			out.installs = append(out.installs, in)
		case len(words) > 0 && words[0] == "kubectl":
			k := slices.Index(words, "generic")
			if k < 2 || k+1 >= len(words) || words[k-1] != "secret" || words[k-2] != "create" {
				continue
			}
			keys := map[string]bool{}
			for _, w := range words[k+2:] {
				for _, flag := range []string{"--from-literal=", "--from-file="} {
					if v, ok := strings.CutPrefix(w, flag); ok {
						key, _, _ := strings.Cut(v, "=")
						keys[key] = true
					}
				}
			}
			out.secrets[words[k+1]] = keys
		}
	}
	return out
}

// shellCommands returns the commands of the sh code blocks in text, one per
// line, with backslash-continued lines joined.
func shellCommands(text string) []string {
	var cmds []string
	parts := strings.Split(text, "```")
	for k := 1; k < len(parts); k += 2 {
		block, ok := strings.CutPrefix(parts[k], "sh\n")
		if !ok {
			continue
		}
		cur := ""
		for _, line := range strings.Split(block, "\n") {
			if s, cont := strings.CutSuffix(line, "\\"); cont {
				cur += s
				continue
			}
			if cmd := strings.TrimSpace(cur + line); cmd != "" {
				cmds = append(cmds, cmd)
			}
			cur = ""
		}
	}
	return cmds
}

// shellWords splits a command into words as a POSIX shell would for the
// README's commands: quotes, backslashes and a trailing # comment. Command
// substitutions are kept as text.
func shellWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for i := 0; i < len(cmd); i++ {
		c := rune(cmd[i])
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(cmd):
			i++
			cur.WriteByte(cmd[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return words
		default:
			cur.WriteByte(cmd[i])
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func TestShellWords(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		want []string
	}{
		{`helm install a b --set x=1   # a comment`, []string{"helm", "install", "a", "b", "--set", "x=1"}},
		{`kubectl create secret generic s --from-literal=u='postgres://a:b@h/d?x=y' --from-literal=t="tu_$(openssl rand -hex 2)"`,
			[]string{"kubectl", "create", "secret", "generic", "s", "--from-literal=u=postgres://a:b@h/d?x=y", "--from-literal=t=tu_$(openssl rand -hex 2)"}},
		{`echo a\ b "c # d"`, []string{"echo", "a b", "c # d"}},
		{`echo a#b`, []string{"echo", "a#b"}},
	} {
		if got := shellWords(c.cmd); !slices.Equal(got, c.want) {
			t.Errorf("shellWords(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
	cmds := shellCommands("text\n```sh\nhelm install a \\\n  --set x=1\nkubectl get pods\n```\n```yaml\nnot: shell\n```\n")
	if want := []string{"helm install a   --set x=1", "kubectl get pods"}; !slices.Equal(cmds, want) {
		t.Errorf("shellCommands = %q, want %q", cmds, want)
	}
}
