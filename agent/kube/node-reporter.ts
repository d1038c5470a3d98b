/**
 * The agent's Reporter when nodes report in their own RouteReport (`--status-reports=node`, docs/status.md): a
 * status entry goes to the {@link ReportSink}, a cleared or released Route leaves it, Events are written as
 * before, and nothing is held: the controller holds the one finalizer of each Route and releases it once no live
 * node reports the Route.
 */
import { reportEntryOf, type RouteNodeStatus } from '../../core/index.js';
import type { AgentEvent, Reporter } from '../ports.js';
import type { ReportSink } from './report-writer.js';

/** Reporter over a sink; `events` writes the Events (the Kubernetes reporter's). */
export class NodeReportReporter implements Reporter {
  constructor(
    private readonly sink: ReportSink,
    private readonly view: { route(name: string): { readonly metadata: { readonly uid?: string } } | undefined },
    private readonly events: Pick<Reporter, 'event'>,
  ) {}

  async status(routeName: string, status: RouteNodeStatus): Promise<void> {
    this.sink.write(routeName, reportEntryOf(status, this.view.route(routeName)?.metadata.uid));
  }

  async clear(routeName: string): Promise<void> {
    this.sink.remove(routeName);
  }

  event(e: AgentEvent): Promise<void> {
    return this.events.event(e);
  }

  /** Nothing to hold: the controller's one finalizer per Route waits for this node's entry to go. */
  async hold(): Promise<void> {}

  /** This node's routes of a deleted Route are out of the kernel: its entry goes, which lets the deletion proceed. */
  async release(routeName: string): Promise<void> {
    this.sink.remove(routeName);
  }
}
