#!/bin/bash
# A/B: one Tomato-Lettuce update from the same checkpoint, the code before (91e9695) and now.
set -e
cd /work/main
D=$(python -c "import torch;print(torch.load('bench/runs/reliability/tomato-lettuce-s1/checkpoint/state.pt',weights_only=False)['decisions'])")
S=$((D + 512))
rm -rf /tmp/s13/ab-new /tmp/s13/ab-old /tmp/s13/oldtree
cp -r bench/runs/reliability/tomato-lettuce-s1 /tmp/s13/ab-new
cp -r bench/runs/reliability/tomato-lettuce-s1 /tmp/s13/ab-old
git worktree add -q /tmp/s13/oldtree 91e9695
echo "from $D to $S decisions"
(cd /tmp/s13/oldtree && python run.py --resume /tmp/s13/ab-old --steps $S --eval-episodes 0) > /tmp/s13/ab-old.out 2>&1
python run.py --resume /tmp/s13/ab-new --steps $S --eval-episodes 0 > /tmp/s13/ab-new.out 2>&1
(cd /tmp/s13/oldtree && python run.py --resume /tmp/s13/ab-old --steps $((S + 512)) --eval-episodes 0) > /tmp/s13/ab-old2.out 2>&1
python run.py --resume /tmp/s13/ab-new --steps $((S + 512)) --eval-episodes 0 > /tmp/s13/ab-new2.out 2>&1
tail -n 2 /tmp/s13/ab-old/metrics.jsonl /tmp/s13/ab-new/metrics.jsonl
echo AB done
