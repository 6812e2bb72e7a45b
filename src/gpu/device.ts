// Getting an adapter and a device, and describing them. The engine owns what
// it creates here; a caller's own GPUDevice is used as it is and never destroyed.
import { BpttDeviceError } from '../errors.js';
import type { AdapterSummary } from '../types.js';
import { findGpu } from './provider.js';

export interface DeviceHandle {
  device: GPUDevice;
  adapter: AdapterSummary;
  owned: boolean; // created by us, so destroyed by us
}

function summarize(info: GPUAdapterInfo | undefined, fallback: boolean): AdapterSummary {
  return {
    vendor: info?.vendor || 'unknown',
    architecture: info?.architecture || 'unknown',
    device: info?.device || '',
    description: info?.description || '',
    isFallbackAdapter: fallback,
  };
}

function isFallback(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (typeof info?.isFallbackAdapter === 'boolean') return info.isFallbackAdapter;
  const legacy = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (typeof legacy === 'boolean') return legacy;
  return info?.architecture === 'swiftshader';
}

/** Limits we ask for: the adapter's own maxima where larger buffers and more storage bindings help. */
function wantedLimits(adapter: GPUAdapter): Record<string, number> {
  const a = adapter.limits;
  return {
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(a.maxStorageBuffersPerShaderStage, 10),
    maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
    // the persistent forward step stages h_prev in workgroup memory (src/gpu/variants.ts)
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
  };
}

export async function acquireDevice(options: { device?: GPUDevice; allowFallbackAdapter: boolean }): Promise<DeviceHandle> {
  if (options.device) {
    const device = options.device;
    if (typeof device.createBuffer !== 'function' || typeof device.queue?.submit !== 'function') {
      throw new BpttDeviceError('options.device: expected a GPUDevice; received something else');
    }
    const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    return { device, adapter: summarize(info, info?.architecture === 'swiftshader'), owned: false };
  }
  const gpu = await findGpu();
  if (!gpu) {
    throw new BpttDeviceError('WebGPU is not available: no navigator.gpu in this page, and no GPU provider in this runtime (in Node, import from the package root so Dawn is used)');
  }
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter && options.allowFallbackAdapter) adapter = await gpu.requestAdapter({ forceFallbackAdapter: true });
  if (!adapter) throw new BpttDeviceError('WebGPU is available but no adapter was found (no GPU driver, and no software adapter)');
  const fallback = isFallback(adapter);
  if (fallback && !options.allowFallbackAdapter) {
    throw new BpttDeviceError(`the only adapter is a software fallback (${adapter.info?.vendor ?? ''} ${adapter.info?.architecture ?? ''})`);
  }
  // 'subgroups' where the adapter has it: the subgroup variants of the step kernels use it
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('subgroups') ? ['subgroups' as GPUFeatureName] : [];
  const device = await adapter.requestDevice({ requiredLimits: wantedLimits(adapter), requiredFeatures });
  return { device, adapter: summarize(adapter.info, fallback), owned: true };
}
