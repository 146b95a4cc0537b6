package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

const bashCompletion = `# bash completion for meshctl; load with: source <(meshctl completion bash)
_meshctl_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "${cur}" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F _meshctl_complete meshctl
`

const zshCompletion = `#compdef meshctl
# zsh completion for meshctl; load with: source <(meshctl completion zsh)
_meshctl() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _meshctl meshctl
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash or zsh)",
		UsageText: "source <(meshctl completion bash)\nsource <(meshctl completion zsh)",
		ArgsUsage: "bash|zsh",
		Action: func(c *cli.Context) error {
			e := envFrom(c)
			if c.NArg() > 1 {
				return usageError("completion takes one shell name, got %d arguments (e.g. source <(meshctl completion bash))", c.NArg())
			}
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(e.stdout, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(e.stdout, zshCompletion)
				return err
			default:
				return usageError("completion needs a shell: bash or zsh (e.g. source <(meshctl completion bash))")
			}
		},
	}
}
