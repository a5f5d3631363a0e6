#!/bin/sh
# vizier-managed-hook: @HOOK@
# Written by `vizier hooks install`; `vizier hooks uninstall` removes it and puts back the hook that
# was here before. A new install overwrites edits made here.
#
# It runs the hook that was here before (kept beside it as `@HOOK@.vizier-chained`), then
# `vizier hook @HOOK@`, which checks the workflow templates being committed or pushed.
# VIZIER_SKIP_HOOKS=1 skips vizier's check (the chained hook still runs).
# Only shell builtins run before vizier starts, so the hook costs one process start.

hook=@HOOK@
installed=@VIZIER@

case $0 in
*/*) here=${0%/*} ;;
*) here=. ;;
esac

piped=
chained=$here/$hook.vizier-chained
if [ -x "$chained" ]; then
	if [ "$hook" = pre-push ]; then
		# git writes the pushed refs on stdin once; both hooks read them. The `.` keeps trailing
		# newlines from being stripped.
		input=$(cat; echo .)
		input=${input%.}
		piped=1
		printf '%s' "$input" | "$chained" "$@" || exit
	else
		"$chained" "$@" || exit
	fi
fi

if [ "${VIZIER_SKIP_HOOKS:-}" = 1 ]; then
	echo "vizier: VIZIER_SKIP_HOOKS=1 is set, skipping the $hook template check" >&2
	exit 0
fi

if [ -x "$installed" ]; then
	bin=$installed
elif command -v vizier >/dev/null 2>&1; then
	bin=vizier
elif [ -n "${VIZIER_BIN:-}" ] && [ -x "$VIZIER_BIN" ]; then
	bin=$VIZIER_BIN
else
	{
		echo "vizier: cannot run the $hook hook: the vizier binary was not found"
		echo "  searched, in order:"
		echo "    $installed (recorded by \`vizier hooks install\`)"
		echo "    each folder of PATH=$PATH"
		echo "    VIZIER_BIN=${VIZIER_BIN:-(not set)}"
		echo "help: put vizier on PATH, set VIZIER_BIN to its full path, or run \`vizier hooks install\` again"
		echo "help: to commit or push once without the check, set VIZIER_SKIP_HOOKS=1"
	} >&2
	exit 1
fi

if [ -n "$piped" ]; then
	printf '%s' "$input" | "$bin" hook "$hook" "$@"
	exit
fi
exec "$bin" hook "$hook" "$@"
