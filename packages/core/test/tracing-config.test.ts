import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('tracing configuration (the OTel SDK variables)', () => {
  it('is off unless an exporter is configured', () => {
    expect(loadConfig({}).tracing).toBeNull();
    // Settings that name no exporter leave it off.
    expect(loadConfig({ OTEL_SERVICE_NAME: 'scanq', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'always_on' }).tracing).toBeNull();
    // An endpoint turns it on; `none` or OTEL_SDK_DISABLED keeps it off whatever else is set.
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing?.exporter).toBe('otlp');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeNull();
  });

  it('builds the traces URL as the spec does: <base>/v1/traces, or the signal endpoint as given', () => {
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing).toEqual({
      exporter: 'otlp',
      endpoint: 'http://localhost:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      sampler: { name: 'parentbased_always_on', ratio: 1 },
      batchDelayMs: 5000,
      attributeValueLengthLimit: 1024,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com:4318/' }).tracing?.endpoint).toBe('https://otel.example.com:4318/v1/traces');
    const c = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://ignored.example.com',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example.com/custom/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-tenant=scanq',
      OTEL_SERVICE_NAME: 'scanq-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096',
    }).tracing;
    expect(c).toEqual({
      exporter: 'otlp',
      endpoint: 'https://otel.example.com/custom/traces',
      protocol: 'http/json',
      headers: { authorization: 'Bearer abc', 'x-tenant': 'scanq' },
      serviceName: 'scanq-eu',
      sampler: { name: 'parentbased_traceidratio', ratio: 0.25 },
      batchDelayMs: 200,
      attributeValueLengthLimit: 4096,
    });
  });

  it('names the variable and the rule on bad values', () => {
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER: /);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: /);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: /);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG: /);
    expect(() => loadConfig({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10' })).toThrow(/OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: /);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS: "novalue…" must be key=value/);
  });
});
