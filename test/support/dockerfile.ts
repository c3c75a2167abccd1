import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Just enough of a Dockerfile reader to run an image's stages without a Docker engine: each
 * stage's FROM parent, ENV, WORKDIR, COPY (from the build context) and RUN lines, in order.
 * The production-image test runs the Dockerfile's own lines this way, so the image and the
 * test cannot drift apart.
 */
export interface Instruction {
  op: 'ENV' | 'WORKDIR' | 'COPY' | 'RUN' | 'OTHER';
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export function readStages(dockerfile: string): Map<string, Stage> {
  const stages = new Map<string, Stage>();
  let current: Stage | undefined;
  const lines = readFileSync(dockerfile, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i]!.trim();
    const line = i + 1;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!.trim()}`;
    if (!text || text.startsWith('#')) continue;
    const [op, ...rest] = text.split(/\s+/);
    const args = rest.join(' ');
    if (op!.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw new Error(`Dockerfile:${line}: cannot read FROM ${args}`);
      current = { name: m[2] ?? `#${stages.size}`, from: m[1]!, instructions: [] };
      stages.set(current.name, current);
      continue;
    }
    if (!current) throw new Error(`Dockerfile:${line}: ${op} before FROM`);
    const known = ['ENV', 'WORKDIR', 'COPY', 'RUN'].includes(op!.toUpperCase());
    current.instructions.push({ op: (known ? op!.toUpperCase() : 'OTHER') as Instruction['op'], args, line });
  }
  return stages;
}

/** The stage and its ancestors inside the file, root first. */
export function stageChain(stages: Map<string, Stage>, name: string): Stage[] {
  const chain: Stage[] = [];
  for (let s = stages.get(name); s; s = stages.get(s.from)) chain.unshift(s);
  if (!chain.length) throw new Error(`no stage ${name}`);
  return chain;
}

/**
 * Runs `stages` (in order) with `dir` standing for their WORKDIR: COPY from `context` into it
 * (one or more sources to a directory or file, as Docker does; no globs, no --from), RUN through
 * `sh -c` there with the stages' ENV. RUN flags such as --mount are dropped. `skipRunIn`: stages
 * whose RUN lines set up tools this machine already has (the image's pnpm), their ENV still applied;
 * `env`: settings that differ here (where the pnpm store is), over the stages' ENV.
 */
export function runStages(stages: Stage[], context: string, dir: string, baseEnv: NodeJS.ProcessEnv, options: { skipRunIn?: string[]; env?: Record<string, string> } = {}): void {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  for (const stage of stages) {
    for (const ins of stage.instructions) {
      if (ins.op === 'RUN' && options.skipRunIn?.includes(stage.name)) continue;
      if (ins.op === 'ENV') {
        for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
      } else if (ins.op === 'COPY') {
        const parts = ins.args.split(/\s+/);
        if (parts.some((p) => p.startsWith('--'))) throw new Error(`Dockerfile:${ins.line}: COPY flags are not run here (${ins.args})`);
        const dest = parts.pop()!;
        for (const src of parts) {
          if (/[*?]/.test(src)) throw new Error(`Dockerfile:${ins.line}: COPY globs are not run here (${src})`);
          const target = dest.endsWith('/') || dest === '.' || dest === './' ? join(dir, dest, src.split('/').pop()!) : join(dir, dest);
          if (src === '.') throw new Error(`Dockerfile:${ins.line}: COPY . is not run here`);
          mkdirSync(dirname(target), { recursive: true });
          cpSync(join(context, src), target, { recursive: true });
        }
      } else if (ins.op === 'RUN') {
        const command = ins.args.replace(/--mount=\S+\s*/g, '');
        Object.assign(env, options.env);
        try {
          execFileSync('sh', ['-c', command], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
        } catch (err) {
          const e = err as { stdout?: Buffer; stderr?: Buffer };
          throw new Error(`Dockerfile:${ins.line}: RUN ${command} failed:\n${String(e.stdout ?? '').slice(-3_000)}\n${String(e.stderr ?? '').slice(-3_000)}`);
        }
      }
    }
  }
}
