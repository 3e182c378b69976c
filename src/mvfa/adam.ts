// Adam as torch.optim.Adam (single-tensor path, no weight decay), in float32 like the reference tensors.

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const MVFA_ADAM: Omit<AdamConfig, 'lr'> = { beta1: 0.5, beta2: 0.999, eps: 1e-8 };

export interface AdamSlot {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export class Adam {
  readonly slots = new Map<string, AdamSlot>();
  constructor(readonly cfg: AdamConfig) {}

  /** Updates `param` in place from `grad`. A parameter that never receives a gradient is never touched. */
  step(name: string, param: Float32Array, grad: Float32Array): void {
    let s = this.slots.get(name);
    if (!s) {
      s = { m: new Float32Array(param.length), v: new Float32Array(param.length), step: 0 };
      this.slots.set(name, s);
    }
    s.step += 1;
    const { lr, beta1, beta2, eps } = this.cfg;
    const bc1 = 1 - beta1 ** s.step;
    const bc2 = 1 - beta2 ** s.step;
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    const f = Math.fround;
    const a1 = f(1 - beta1);
    const a2 = f(1 - beta2);
    const b1 = f(beta1);
    const b2 = f(beta2);
    const { m, v } = s;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i];
      m[i] = f(f(m[i] * b1) + f(g * a1));
      v[i] = f(f(v[i] * b2) + f(f(g * g) * a2));
      const denom = f(f(Math.sqrt(v[i]) / bc2Sqrt) + eps);
      param[i] = f(param[i] - f(stepSize * f(m[i] / denom)));
    }
  }

  /** Serialisable state (for checkpoints that resume bit-identically). */
  state(): { name: string; step: number; m: Float32Array; v: Float32Array }[] {
    return [...this.slots].map(([name, s]) => ({ name, step: s.step, m: s.m, v: s.v }));
  }

  load(state: { name: string; step: number; m: Float32Array; v: Float32Array }[]): void {
    this.slots.clear();
    for (const s of state) this.slots.set(s.name, { m: s.m.slice(), v: s.v.slice(), step: s.step });
  }
}
