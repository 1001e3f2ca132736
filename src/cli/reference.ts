// Renders the CLI reference (docs/cli-reference.md's generated part) from the
// commander program itself, through commander's own Help, so the reference
// says what `--help` says and cannot drift from what the CLI parses. A test
// compares it with the committed file.
import { type Command, Help } from 'commander';

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function section(cmd: Command, help: Help): string[] {
  const out = [`## \`${fullName(cmd)}\``, ''];
  const description = help.commandDescription(cmd);
  if (description) out.push(description, '');
  out.push('```', help.commandUsage(cmd), '```', '');
  const args = help.visibleArguments(cmd);
  if (args.length > 0) {
    out.push('| argument | meaning |', '|---|---|');
    for (const a of args) {
      out.push(`| \`${help.argumentTerm(a)}\` | ${cell(help.argumentDescription(a))} |`);
    }
    out.push('');
  }
  // -h/--help is on every command; the intro says so once.
  const options = help.visibleOptions(cmd).filter((o) => o.long !== '--help');
  if (options.length > 0) {
    out.push('| option | meaning |', '|---|---|');
    for (const o of options) {
      const meaning = [help.optionDescription(o), o.mandatory ? '(required)' : '']
        .filter(Boolean)
        .join(' ');
      out.push(`| \`${help.optionTerm(o)}\` | ${cell(meaning)} |`);
    }
    out.push('');
  }
  if (cmd.commands.length > 0) {
    out.push(`Commands: ${cmd.commands.map((c) => `\`${fullName(c)}\``).join(', ')}.`, '');
  }
  return out;
}

/** Every command of the program, depth first in the order they were registered. */
export function renderCliReference(program: Command): string {
  const help = new Help();
  const lines: string[] = [];
  const walk = (cmd: Command) => {
    lines.push(...section(cmd, help));
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  return lines.join('\n').trimEnd();
}
