"""The OS jail around a task's program: one short-lived process per task, forked by a
pre-warmed zygote, talking to the orchestrator only over a socket, in JSON lines.

- protocol:   the JSON-line messages and their size bounds
- limits:     rlimits, no-new-privileges, dropping root (layer 1)
- seccomp:    the syscall filter, via libseccomp through ctypes (layer 2)
- namespaces: no network, a read-only file system with empty scratch dirs (layer 3)
- child:      what runs in the forked process: jail itself, run the program, report
- zygote:     the clean process that caches programs and images and forks children
- client:     the orchestrator's side: starts the zygote, runs a task, serves its calls
"""
