#!/usr/bin/python3
"""moat(8) from one source: the page the argument parser generates from moat's own
commands (generate-manual, the same text as --help), a synopsis line per command taken
from that command's own usage, and the hand-written sections (moat.8.sections).

usage: assemble.py MOAT GENERATED SECTIONS > moat.8
"""
import subprocess
import sys


def usage(moat, command):
    """The command's USAGE line, as `moat COMMAND --help` prints it."""
    text = subprocess.run([moat, command, "--help"], check=True, capture_output=True, text=True).stdout
    for line in text.splitlines():
        if line.startswith("USAGE: moat "):
            return line[len("USAGE: moat "):]
    raise SystemExit(f"assemble.py: no usage line in `moat {command} --help`")


def roff(text):
    """Text as a roff line: backslashes escaped, never read as a request."""
    return "\\&" + text.replace("\\", "\\e")


def main(moat, generated, sections):
    lines = open(generated, encoding="utf-8").read().splitlines()
    commands = [line.split()[2] for line in lines if line.startswith(".It Em ") and line.split()[2] != "help"]
    out = []
    for line in lines:
        if line.startswith('.Sh "EXIT STATUS"') or line == ".Sh EXIT STATUS":
            break  # the hand-written part says it, with each code
        if line == "":
            out.append(".Pp")  # a blank line in --help's discussion is a paragraph
        elif line.startswith("  ") and not line.startswith("."):
            out.append(".Dl " + line.strip())  # an example line of --help
        else:
            out.append(line)
        if line == ".Op Fl -help" and out[-4:-2] == [".Nm", ".Ar subcommand"]:
            for command in commands:
                out += [".Nm", roff(usage(moat, command))]
    out += open(sections, encoding="utf-8").read().splitlines()
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
