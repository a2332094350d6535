import { ConfigIssue } from './common/validation';
import { SEASONAL_DETECTOR_TYPE, SeasonalDetectorConfig, createSeasonalDetector, defaultSeasonalDetectorConfig, validateSeasonalDetectorConfig } from './seasonal/seasonal-detector';
import { ISOLATION_FOREST_TYPE, IsolationForestConfig, createIsolationForest, defaultIsolationForestConfig, validateIsolationForestConfig } from './isolation-forest/isolation-forest';
import { HOLT_WINTERS_TYPE, HoltWintersConfig, createHoltWintersForecaster, defaultHoltWintersConfig, validateHoltWintersConfig } from './forecast/holt-winters-forecaster';
import { DRIFT_DETECTOR_TYPE, DriftConfig, createDriftMonitor, defaultDriftConfig, validateDriftConfig } from './drift/drift-detector';

/** Factory shape shared by every detector (like an OpenTelemetry Collector component factory). */
export interface DetectorFactory<Type extends string, Config, Instance, State> {
  type: Type;
  defaultConfig: Readonly<Config>;
  validate(config: Config): ConfigIssue[];
  /** Throws InvalidConfigError listing every issue; pass `state` to resume from a snapshot. */
  create(config?: Partial<Config>, state?: State): Instance;
}

export const detectorRegistry = {
  [SEASONAL_DETECTOR_TYPE]: {
    type: SEASONAL_DETECTOR_TYPE,
    defaultConfig: defaultSeasonalDetectorConfig,
    validate: validateSeasonalDetectorConfig,
    create: createSeasonalDetector,
  },
  [ISOLATION_FOREST_TYPE]: {
    type: ISOLATION_FOREST_TYPE,
    defaultConfig: defaultIsolationForestConfig,
    validate: validateIsolationForestConfig,
    create: createIsolationForest,
  },
  [HOLT_WINTERS_TYPE]: {
    type: HOLT_WINTERS_TYPE,
    defaultConfig: defaultHoltWintersConfig,
    validate: validateHoltWintersConfig,
    create: createHoltWintersForecaster,
  },
  [DRIFT_DETECTOR_TYPE]: {
    type: DRIFT_DETECTOR_TYPE,
    defaultConfig: defaultDriftConfig,
    validate: validateDriftConfig,
    create: createDriftMonitor,
  },
} as const satisfies {
  seasonal: DetectorFactory<'seasonal', SeasonalDetectorConfig, unknown, never>;
  'isolation-forest': DetectorFactory<'isolation-forest', IsolationForestConfig, unknown, never>;
  'holt-winters': DetectorFactory<'holt-winters', HoltWintersConfig, unknown, never>;
  drift: DetectorFactory<'drift', DriftConfig, unknown, never>;
};

export type DetectorType = keyof typeof detectorRegistry;

export const detectorTypes = Object.keys(detectorRegistry) as DetectorType[];
