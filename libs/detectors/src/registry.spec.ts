import { detectorRegistry, detectorTypes } from './registry';
import { InvalidConfigError } from './common/validation';

describe('detector registry', () => {
  it('lists every detector with a valid default config and a working factory', () => {
    expect(detectorTypes.sort()).toEqual(['drift', 'holt-winters', 'isolation-forest', 'seasonal']);
    for (const type of detectorTypes) {
      const f = detectorRegistry[type];
      expect(f.type).toBe(type);
      expect(f.validate(f.defaultConfig as never)).toEqual([]);
      expect(f.create()).toBeDefined();
    }
  });

  it('refuses a bad config at creation, naming the detector and the path', () => {
    let error: unknown;
    try {
      detectorRegistry.seasonal.create({ warmup: -5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).issues).toEqual([{ path: 'warmup', message: 'must be a non-negative integer' }]);
    expect((error as Error).message).toMatch(/^invalid seasonal config: warmup/);
  });
});
