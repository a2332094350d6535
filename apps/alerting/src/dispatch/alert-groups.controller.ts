import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, Headers, HttpCode, HttpException, Inject, Param, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { silenceProblem } from '@headroom/routing';
import { Public, Requires, TenantDirectory, tenantOf } from '@headroom/tenancy';
import type { FastifyRequest } from 'fastify';
import { parseAckAction, verifySlackRequest } from '../channels/slack/interactivity';
import { DispatchRepository } from './dispatch.repository';
import { Dispatcher } from './dispatcher';
import { DISPATCH_OPTIONS, type DispatchHttpOptions } from './dispatch.tokens';

export const SilenceBodySchema = z
  .object({
    matchers: z.array(z.string().min(1).max(1024)).min(1).max(32),
    startsAt: z.string().datetime().optional(),
    endsAt: z.string().datetime(),
    endOnResolve: z.boolean().default(false),
    comment: z.string().max(1000).default(''),
  })
  .strict();

function fail(status: number, error: string, message: string, path?: string): never {
  throw new HttpException({ error, message, ...(path ? { path } : {}) }, status);
}

/**
 * The tenant's side of alerting: alert groups, acknowledgement, silences — the tenant always from
 * the credential (API key or person's token), never from the path or body; another tenant's group
 * or silence is simply "not found". Viewers read; operators acknowledge and silence. And Slack's
 * interactivity endpoint, trusted only through Slack's request signature.
 */
@Controller('v1')
export class AlertGroupsController {
  constructor(
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(Dispatcher) private readonly dispatcher: Dispatcher,
    @Inject(DispatchRepository) private readonly repo: DispatchRepository,
    @Inject(DISPATCH_OPTIONS) private readonly options: DispatchHttpOptions,
  ) {}

  /** Slack workspaces (team ids) the tenant declared on its Slack integrations. */
  private teamsOf(tenant: string): Set<string> {
    const teams = new Set<string>();
    for (const r of this.directory.alertConfig(tenant)?.routing?.receivers ?? []) {
      for (const c of r.slack_configs ?? []) if (typeof c['team_id'] === 'string') teams.add(c['team_id']);
    }
    return teams;
  }

  @Get('alert-groups')
  @Requires({ role: 'viewer' })
  async groups(@Req() req: FastifyRequest) {
    const { tenant } = tenantOf(req);
    const groups = await this.repo.groupsOf(tenant);
    return {
      groups: groups.map((g) => ({
        groupKey: g.groupKey,
        receiver: g.receiver,
        groupLabels: g.groupLabels,
        alerts: Object.values(g.alerts),
        acknowledged: g.ack,
        lastNotifiedAt: g.lastNotifiedAt,
        escalationStepsDone: g.escalationStepsDone,
      })),
    };
  }

  @Post('alert-groups/:groupKey/ack')
  @HttpCode(200)
  @Requires({ role: 'operator' })
  async ack(@Req() req: FastifyRequest, @Param('groupKey') groupKey: string) {
    const p = tenantOf(req);
    const outcome = await this.dispatcher.acknowledge(p.tenant, groupKey, p.actor);
    if (outcome === 'not_found') fail(404, 'not_found', 'no such alert group for this tenant');
    return { groupKey, outcome };
  }

  @Get('silences')
  @Requires({ role: 'viewer' })
  async silences(@Req() req: FastifyRequest) {
    const { tenant } = tenantOf(req);
    return { silences: await this.repo.allSilences(tenant) };
  }

  @Post('silences')
  @HttpCode(201)
  @Requires({ role: 'operator' })
  async createSilence(@Req() req: FastifyRequest, @Body() body: unknown) {
    const p = tenantOf(req);
    const parsed = SilenceBodySchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      fail(400, 'invalid_silence', issue.message, issue.path.join('.'));
    }
    const now = Date.now();
    const silence = {
      id: randomUUID(),
      matchers: parsed.data.matchers,
      startsAt: parsed.data.startsAt ? Date.parse(parsed.data.startsAt) : now,
      endsAt: Date.parse(parsed.data.endsAt),
      endOnResolve: parsed.data.endOnResolve,
      createdBy: p.actor,
      comment: parsed.data.comment,
    };
    const problem = silenceProblem(silence);
    if (problem) fail(400, 'invalid_silence', problem, 'matchers');
    await this.repo.createSilence(p.tenant, silence, now);
    return silence;
  }

  @Delete('silences/:id')
  @Requires({ role: 'operator' })
  async expireSilence(@Req() req: FastifyRequest, @Param('id') id: string) {
    const p = tenantOf(req);
    if (!(await this.repo.expireSilence(p.tenant, id, Date.now()))) fail(404, 'not_found', 'no such silence for this tenant');
    return { id, expired: true };
  }

  /**
   * Slack's interactivity request (the Acknowledge button). Verified with the app's signing secret;
   * the tenant comes from the button's value, which Headroom wrote and Slack signed back, and the
   * group must be that tenant's.
   */
  @Post('slack/actions')
  @HttpCode(200)
  @Public()
  async slackAction(@Req() req: FastifyRequest, @Headers('x-slack-request-timestamp') timestamp: string | undefined, @Headers('x-slack-signature') signature: string | undefined) {
    // Not a passing outage: without a signing secret this deployment takes no Slack clicks at all.
    if (!this.options.slackSigningSecret) fail(404, 'not_configured', 'Slack interactivity is off: SLACK_SIGNING_SECRET is not set');
    const rawBody = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const verdict = verifySlackRequest({ signingSecret: this.options.slackSigningSecret, timestamp, rawBody, signature, now: Date.now() });
    if (!verdict.ok) fail(401, 'bad_signature', verdict.reason);
    const parsed = parseAckAction(rawBody);
    if (!parsed.ok) fail(400, 'bad_action', parsed.error);
    const { tenant, groupKey, user, teamId } = parsed.action;
    // The button's value names the tenant, but any workspace with the app installed could post a
    // button naming someone else: the click must come from a workspace the tenant declared.
    const teams = this.teamsOf(tenant);
    if (!teamId || !teams.has(teamId)) fail(403, 'wrong_workspace', 'this Slack workspace is not one of the tenant\'s (slack_configs[].team_id)');
    const outcome = await this.dispatcher.acknowledge(tenant, groupKey, `slack:${teamId}:${user.id}`);
    if (outcome === 'not_found') fail(404, 'not_found', 'no such alert group');
    return { outcome };
  }
}

