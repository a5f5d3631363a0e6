# Sourced by the bench suites that time chains (run.sh, job.sh); not a suite itself.
# chain N > file: a template of N `true` shell nodes, each after the one before.
chain() {
  printf 'id = "bench.chain"\nversion = "v1"\n'
  for i in $(seq 1 "$1"); do
    printf '\n[[nodes]]\nid = "n%d"\nkind = "shell"\nuses = "cap.env.shell.command.run"\nargs = { command = "true" }\n' "$i"
    [ "$i" -gt 1 ] && printf 'after = [{ node_id = "n%d" }]\n' $((i - 1))
  done
  return 0
}
