import { ChannelConfigError, ChannelRegistry } from '../notification-channel';
import { slackChannelFactory } from './slack.channel';

describe('slack channel config', () => {
  it('accepts the default config once a token is given', () => {
    expect(slackChannelFactory.validate({ ...slackChannelFactory.defaultConfig(), token: 'xoxb-1' })).toEqual([]);
    expect(slackChannelFactory.defaultConfig().apiUrl).toBe('https://slack.com/api/');
  });

  it('lists every problem with its path', () => {
    expect(slackChannelFactory.validate({ token: ' ', apiUrl: 'not a url', timeoutMs: 0 })).toEqual([
      { path: 'token', message: expect.stringContaining('required') },
      { path: 'apiUrl', message: expect.stringContaining('absolute URL') },
      { path: 'timeoutMs', message: expect.stringContaining('positive') },
    ]);
    expect(slackChannelFactory.validate({ token: 'x', apiUrl: 'http://127.0.0.1:1/api', timeoutMs: 1 })).toEqual([
      { path: 'apiUrl', message: expect.stringContaining('end with /') },
    ]);
  });
});

describe('ChannelRegistry', () => {
  const registry = () => new ChannelRegistry().register(slackChannelFactory);

  it('builds a configured channel over its defaults', () => {
    const [channel] = registry().build({ slack: { token: 'xoxb-1' } });
    expect(channel?.type).toBe('slack');
  });

  it('reports every problem of every channel at once, prefixed by the channel type', () => {
    let error: unknown;
    try {
      registry().build({ slack: { apiUrl: 'nope' }, pagerduty: {} });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ChannelConfigError);
    expect((error as ChannelConfigError).problems.map((p) => p.path)).toEqual(['slack.token', 'slack.apiUrl', 'pagerduty']);
  });
});
