//! "About this setting": what each control of the experiment panel is, in the paper's words
//! (equation numbers as in docs/algorithm.md), and what changing it does. Shown on hover, so in
//! glyphs egui's default fonts have: ASCII and the Greek letters.

pub const OBJECTIVE: &str = "The generator's loss. SIM: score implicit matching, the gradient of \
    a distance d between the teacher's and the student's scores (Eq. 3.7, B.13). SiD: score \
    identity distillation (Zhou et al. 2024). Diff-Instruct: the KL gradient (Luo et al. 2023), \
    mode-seeking. Live: takes effect at the next iteration.";

pub const SID_ALPHA: &str = "SiD's α in L = w(σ)(D_q - D_ψ, (D_q - x_0) - α(D_q - D_ψ)); 1.2 in \
    SiD's paper. At α = 1 SiD is half of SIM with L2.";

pub const DISTANCE: &str = "d in SIM's loss -w(σ)(d'(y), D_ψ(x_t; σ) - x_0), y = D_ψ - D_q (Eq. \
    3.7). Pseudo-Huber (Eq. 3.8) normalises the update by sqrt(|y|² + c²), so a large score gap \
    cannot blow it up: the paper's choice, and why SIM survives learning rates at which L2 \
    (SiD-like) diverges. L1, Huber, α-power and exp-power are Table 4's.";

pub const PSEUDO_HUBER_C: &str = "c in d(y) = sqrt(|y|² + c²) - c (Eq. 3.8): for |y| much below \
    c it acts as L2, for |y| well above c as a normalised L1 (each sample's update has length ~ \
    1). The paper does not publish c; 0.03 comes from a sweep on the default preset.";

pub const HUBER_DELTA: &str = "δ of the Huber distance (Table 4): quadratic where |y_k| <= δ, \
    linear beyond, so d'(y) is clipped at δ per coordinate.";

pub const POWER_ALPHA: &str = "α of d(y) = |y|_α^α (Table 4), even: a larger α weighs large \
    score gaps more and small ones less.";

pub const EXP_BETA: &str = "β of the exp-power distance d(y) = exp(β|y|_α^α) (Table 4): a larger \
    β grows faster with the gap.";

pub const WEIGHTING: &str = "w(σ) in the generator loss: nowgt (w = 1, the paper's choice for \
    SIM) or sidwgt (w = 1 / mean_k |x_0 - D_q(x_t; σ)|_k per sample, stop-gradient, as SiD's \
    code).";

pub const SIGMA_GENERATOR: &str = "The σ distribution p_G of the generator phase, where x_t = \
    x_0 + σε is scored (B.1). p_SIM: ln σ ~ N(-3.5, 2.5²) (B.9-B.10), the paper's CIFAR-10 \
    setting; more mass at small σ matches fine detail.";

pub const SIGMA_FAKE: &str = "The σ distribution of the fake-denoiser phase, where ψ learns the \
    generator's score by denoising (B.5-B.7). p_EDM: ln σ ~ N(-1.2, 1.2²) with the EDM loss \
    weighting.";

pub const LR_GENERATOR: &str = "Adam learning rate of the generator θ (β = (0, 0.999); Table 5: \
    1e-5 at batch 256). The paper's robustness claim: SIM stays stable at 10x where SiD and \
    Diff-Instruct become unstable. Live.";

pub const LR_FAKE: &str = "Adam learning rate of the fake denoiser ψ, which tracks the \
    generator's distribution by denoising score matching (B.5-B.7). Too low and ψ lags the \
    generator, so its score gap y is stale. Live.";

pub const K_FAKE: &str = "k_ψ: fake-denoiser steps per generator step. More keeps ψ closer to \
    the generator's current score, at the cost of a longer iteration. Live.";

pub const BATCH: &str = "Samples per iteration in both phases (Table 5: 256). A larger batch \
    lowers the gradient noise and costs time per iteration in proportion.";

pub const T_STAR: &str = "t*: the generator is g_θ(z) = D_θ(z; t*) with z ~ N(0, t*² I) (B.4), \
    the teacher's denoiser at noise level t*, initialised from the teacher; 2.5 in the paper.";

pub const EMA: &str = "Half-life of the generator's exponential moving average, in thousands of \
    generated samples; the evaluated and sampled generator is the EMA. Longer averages out a \
    noisy tail and follows the run later.";

pub const SEED: &str = "Seed of every random draw (initialisation, noise, σ, labels, evaluation \
    noise): the same preset and seed give the same curve.";

pub const ITERATIONS: &str = "Iterations of the run (each: k_ψ fake-denoiser steps, then one \
    generator step).";

pub const NET_SHAPE: &str = "The MLP's hidden width and depth of a 2-D run's networks (teacher, \
    generator and fake denoiser share it).";

pub const EVAL_EVERY: &str = "Evaluate the EMA generator every this many iterations (and ten \
    times as often before the first, eval.early): IS, mode coverage and FD, or FID and IS.";

pub const DATA: &str = "The data the teacher models. The mixtures (ring, grid, any list of \
    components) have an exact teacher: their score is known in closed form, so the student is \
    judged against the truth. The shapes and image sets need a network teacher. Applies on \
    restart.";

pub const TEACHER: &str = "The teacher q whose score the student matches. Exact: the mixture's \
    closed-form denoiser D_q(x; σ) (B.3). Network: a trained denoiser loaded from a file (a \
    toy MLP fitted by the workbench, or an image U-Net).";

pub const EDM_TEACHER: &str = "A published EDM network (DDPM++, e.g. edm-cifar10-32x32-cond-vp, \
    the paper's teacher) converted once with tools/edm_to_safetensors.py where the pickle and \
    PyTorch are; [data] names the images it models, scored with eval.classifier (the FID \
    Inception-v3 for CIFAR-10). See docs/edm-teachers.md.";
