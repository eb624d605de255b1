"""Code generation: query -> serial program (LLM) -> distributed program (compiler), verified.

generate.py asks an LLM for a serial program; distribute.py compiles it into a program
whose independent hermod calls run together; verify.py proves the two equivalent on a
deterministic stand-in runtime (standin.py) before anything is trusted.
"""
