// A job's hosts: state, exit code, duration and error per host, as the job
// detail and the Run page both show them.
import type { JobDetail } from '../sdk/client.js';
import { Badge, CardsTable } from './components.js';
import { commandResult } from './job.js';

export function HostsTable({ job, hosts }: { job: JobDetail | null; hosts: readonly string[] }) {
  if (hosts.length === 0) return null;
  return (
    <CardsTable
      caption="Hosts"
      class="hosts"
      columns={['Host', 'State', 'Exit', 'Duration', 'Error']}
    >
      {hosts.map((h) => {
        const state = job?.agent_states[h];
        const result = job ? commandResult(job, h) : null;
        const error = state?.error ?? job?.responses[h]?.error;
        return (
          <tr key={h} data-host={h}>
            <th scope="row" data-label="Host">
              {h}
            </th>
            <td data-label="State" data-testid="host-state">
              <Badge value={state?.status ?? 'pending'} />
            </td>
            <td data-label="Exit" class="num">
              {result ? result.exit_code : '–'}
            </td>
            <td data-label="Duration" class="num">
              {state?.duration ?? (result ? `${result.duration_ms} ms` : '–')}
            </td>
            <td data-label="Error" class="wrap">
              {error ?? ''}
            </td>
          </tr>
        );
      })}
    </CardsTable>
  );
}
