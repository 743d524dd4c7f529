import type { Executor } from '../exec/types.js';
import type { ParamValues } from '../runbook/params.js';

/**
 * What the tutorial shows at the end of part 1: the container's and the host's addresses and
 * routes, and a ping each way. Printed by a one-shot `--sandbox` run before its host vanishes.
 */
export async function showTutorialView(
  out: (line: string) => void,
  executor: Executor,
  params: ParamValues,
): Promise<void> {
  const container = params.container;
  const address = params.container_cidr?.split('/')[0];
  const views: Array<[string, string[]]> = [
    ['host: ip -br addr', ['ip', '-br', 'addr']],
    ['host: ip route', ['ip', 'route']],
  ];
  if (container !== undefined) {
    views.push(
      [`${container}: ip -br addr`, ['ip', '-n', container, '-br', 'addr']],
      [`${container}: ip route`, ['ip', '-n', container, 'route']],
    );
  }
  if (address !== undefined) views.push([`host → ${address}: ping -c1 -w2`, ['ping', '-c1', '-w2', address]]);
  if (container !== undefined && params.host_ip !== undefined) {
    views.push([
      `${container} → ${params.host_ip}: ping -c1 -w2`,
      ['ip', 'netns', 'exec', container, 'ping', '-c1', '-w2', params.host_ip],
    ]);
  }
  out('');
  out('the sandbox host now (what the tutorial shows):');
  for (const [label, argv] of views) {
    const result = await executor.run({ argv, timeoutMs: 5_000 });
    const text = (result.stdout + result.stderr).trim();
    const isPing = argv.includes('ping');
    const shown = isPing
      ? `${result.exitCode === 0 ? 'ok' : 'FAILED'}: ${text.split('\n').find((l) => l.includes('packet')) ?? text}`
      : text;
    out(`  ${label}`);
    for (const line of shown.split('\n')) out(`    ${line}`);
  }
}
