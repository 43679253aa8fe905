// Retrieval quality measures now live with the evaluation harness (inference/eval/metrics.ts); benchmarks import them from here.
export * from '../../inference/eval/metrics.ts';
