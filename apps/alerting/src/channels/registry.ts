import type { ChannelSender, ChannelType, ConfigProblem } from './channel';

export class ChannelConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid notification channel configuration:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ChannelConfigError';
  }
}

/**
 * Known channel types (the OpenTelemetry Collector's factory shape). Adding a channel is adding a
 * folder with its `ChannelType` and one `register` line in `defaultChannelRegistry`.
 */
export class ChannelRegistry {
  private readonly types = new Map<string, ChannelType<unknown, unknown>>();

  register<C, T>(type: ChannelType<C, T>): this {
    this.types.set(type.type, type as unknown as ChannelType<unknown, unknown>);
    return this;
  }

  get(type: string): ChannelType<unknown, unknown> | undefined {
    return this.types.get(type);
  }

  names(): string[] {
    return [...this.types.keys()];
  }

  /**
   * One sender per type, each from its default config with the deployment's overrides merged in;
   * every problem of every channel is reported at once (the boot fails with all of them).
   */
  createSenders(overrides: Record<string, Record<string, unknown>>, enabled: readonly string[] = this.names()): Map<string, ChannelSender<unknown>> {
    const problems: ConfigProblem[] = [];
    for (const name of [...Object.keys(overrides), ...enabled]) if (!this.types.has(name)) problems.push({ path: name, message: `unknown channel type (known: ${this.names().join(', ')})` });
    const built: [string, ChannelType<unknown, unknown>, unknown][] = [];
    for (const [name, type] of this.types) {
      if (!enabled.includes(name)) continue;
      const config = { ...(type.defaultConfig() as object), ...(overrides[name] ?? {}) };
      problems.push(...type.validate(config).map((p) => ({ path: `${name}.${p.path}`, message: p.message })));
      built.push([name, type, config]);
    }
    if (problems.length) throw new ChannelConfigError(problems);
    return new Map(built.map(([name, type, config]) => [name, type.create(config)]));
  }
}
