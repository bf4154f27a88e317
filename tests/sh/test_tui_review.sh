# The review screen (issue 16) tested the tig way: keys from a script
# (GEVO_TUI_SCRIPT), the virtual screen dumped as text (:dump) and as
# styled runs (:dump-attrs), compared with the screens expected, at 80x24
# and 200x50. The session is real: two proposals recorded by `gevo propose`
# from the fake LLM server (tests/tui/answers/tui_review*.md), the seed
# and one proposal really trained on a Fashion-MNIST subset.
. tests/sh/lib_tui.sh
unset GEVO_MOUSE GEVO_LLM_MODEL GEVO_LLM_BASE_URL

# has NAME FILE TEXT: FILE has the line TEXT (fixed string, whole line).
has() {
    if grep -qxF -- "$3" "$2"; then ok "$1"; else fail "$1" "no line '$3' in: $(cat "$2")"; fi
}

fake_llm --answers "$root/tests/tui/answers"
trap 'kill "$spid" 2>/dev/null; tui_cleanup' EXIT

S="$T/s"
review_session "$S"
open_args="--llm none --offspring 2 --subset 300"

# ---- 80x24: unified, word highlights, wrapping, the cursor, hunks --------
cat >"$T/k1" <<EOF
:wait-idle
2
:dump $T/unified
:dump-attrs $T/unified.attrs
}
}
:dump $T/hunk2
{
:dump $T/hunk1
s
<Down><Down><Down><Down>
:dump $T/split
:dump-attrs $T/split.attrs
<Left>
:dump $T/split-old
s
:dump $T/unified-again
EOF
tui "80x24 review" 80 24 "$T/k1" "$S" $open_args
same "80x24 unified: the cursor on the first line, a long line wrapped after the wrap mark" "$T/unified" <<'EOF'
 gen 1 │ 2 pend 0 train 0 done 0 rej 0 fail │ 3.0k tok 2 req │ no LLM
 1 Population   2 Diff   3 Reasoning  g1-1 pending
▶--- a/genome.net
 +++ b/genome.net
 @@ -7,10 +7,11 @@ input x: 1x28x28
  classes 10

  def stem(x, c):
 -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))
 +    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))

  def block(x, c):
      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))
 +    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(batc
 ↪hnorm(conv(y, c, k=1, bias=false))))
      return maxpool(y, 2)

  def head(x):
 @@ -21,5 +22,5 @@ x = block(x, 24)
  x = block(x, 48)
  return head(x)

 -train optimizer=sgd lr=0.05 momentum=0.9 nesterov=true weight_decay=1e-4
?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
same "80x24 side by side (s): old left, new right, both line numbers, the cursor on the new side" "$T/split" <<'EOF'
 gen 1 │ 2 pend 0 train 0 done 0 rej 0 fail │ 3.0k tok 2 req │ no LLM
 1 Population   2 Diff   3 Reasoning  g1-1 pending
  --- a/genome.net                      │ +++ b/genome.net
  @@ -7,10 +7,11 @@ input x: 1x28x28
    7  classes 10                       │   7  classes 10
    8                                   │   8
    9  def stem(x, c):                  │   9  def stem(x, c):
   10 -    return relu(batchnorm(conv(x,▶  10 +    return relu(batchnorm(conv(x,
      ↪ c, k=3, stride=2, padding=1, bia│     ↪ c, k=5, stride=2, padding=2, bia
      ↪s=false)))                       │     ↪s=false)))
   11                                   │  11
   12  def block(x, c):                 │  12  def block(x, c):
   13      y = relu(batchnorm(conv(x, c,│  13      y = relu(batchnorm(conv(x, c,
      ↪ k=3, padding=1, bias=false)))   │     ↪ k=3, padding=1, bias=false)))
                                        │  14 +    y = add(relu(batchnorm(conv(y
                                        │     ↪, c, k=3, padding=1, bias=false))
                                        │     ↪), relu(batchnorm(conv(y, c, k=1,
                                        │     ↪ bias=false))))
   14      return maxpool(y, 2)         │  15      return maxpool(y, 2)
   15                                   │  16
   16  def head(x):                     │  17  def head(x):
  @@ -21,5 +22,5 @@ x = block(x, 24)
   21  x = block(x, 48)                 │  22  x = block(x, 48)
?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
has "80x24: } twice puts the cursor on the second hunk" "$T/hunk2" "▶@@ -21,5 +22,5 @@ x = block(x, 24)"
has "80x24: { goes back to the hunk before" "$T/hunk1" "▶@@ -7,10 +7,11 @@ input x: 1x28x28"
has "80x24 side by side: Left puts the cursor on the old side" "$T/split-old" \
    "▶  10 -    return relu(batchnorm(conv(x,│  10 +    return relu(batchnorm(conv(x,"
has "80x24: s again is unified, the cursor on the same line" "$T/unified-again" \
    "▶-    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))"
# word highlights: the words that changed in their own colour, in the
# unified and the side-by-side view alike
has "80x24 unified: the changed words of a removed line" "$T/unified.attrs" \
    '8: {DIFF_DEL "-    return relu(batchnorm(conv(x, c, k="} {DIFF_DEL_WORD,bold "3"} {DIFF_DEL ", stride=2, padding="} {DIFF_DEL_WORD,bold "1"} {DIFF_DEL ", bias=false)))"}'
has "80x24 unified: the changed words of the added line paired with it" "$T/unified.attrs" \
    '9: {DIFF_ADD,bold "+    return relu(batchnorm(conv(x, c, k="} {DIFF_ADD_WORD,bold "5"} {DIFF_ADD,bold ", stride=2, padding="} {DIFF_ADD_WORD,bold "2"} {DIFF_ADD,bold ", bias=false)))"}'
has "80x24 unified: an added line with no removed one has no word highlights" "$T/unified.attrs" \
    '13: {DIFF_ADD,bold "+    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(batc"}'
has "80x24 side by side: the changed words on both sides, on the wrapped row too" "$T/split.attrs" \
    '8: {SEP "↪"} {DIFF_DEL " c, k="} {DIFF_DEL_WORD,bold "3"} {DIFF_DEL ", stride=2, padding="} {DIFF_DEL_WORD,bold "1"} {DIFF_DEL ", bia"} {SEP "│"} {SEP "↪"} {DIFF_ADD,bold " c, k="} {DIFF_ADD_WORD,bold "5"} {DIFF_ADD,bold ", stride=2, padding="} {DIFF_ADD_WORD,bold "2"} {DIFF_ADD,bold ", bia"}'

# ---- 200x50: three panes; z zooms the diff, side by side from 140 columns -
cat >"$T/k2" <<EOF
:wait-idle
:dump $T/wide
2
z
:dump $T/zoomed
:dump-attrs $T/zoomed.attrs
z
:dump $T/unzoomed
EOF
tui "200x50 review" 200 50 "$T/k2" "$S" $open_args
# the fake server's latency is the machine's
sed -i 's/ out, [0-9.]* s$/ out, N s/' "$T/wide" "$T/unzoomed"
same "200x50: three panes; the diff pane (78 columns) is unified, its long line wrapped" "$T/wide" <<'EOF'
 gevo s │ gen 1 │ 2 pending 0 training 0 trained 0 rejected 0 failed │ 2.0k/1.0k tokens $0.00 2 requests │ no LLM: random mutation
 training: none
 Population                                             │ Diff: g1-1 against g0-1                                                      │ Reasoning
▸ generation 0: 1                                       │▶--- a/genome.net                                                             │g1-1 mutation by magoo
▾ generation 1: 2, 2 pending (live)                     │ +++ b/genome.net                                                             │parents: g0-1
  ○  g1-1    mutation  magoo    pending        - <g0-1  │ @@ -7,10 +7,11 @@ input x: 1x28x28                                           │model: rev/ok:tui_review, tokens 1000 in, 500 out, N s
  ○  g1-2    mutation  magoo    pending        - <g0-1  │  classes 10                                                                  │
                                                        │                                                                              │-- reasoning --
                                                        │  def stem(x, c):                                                             │A wider stem kernel sees more of each garment, and a second,
                                                        │ -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))│1x1 path
                                                        │ +    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))│inside every block lets it keep the low-level features; a
                                                        │                                                                              │larger step
                                                        │  def block(x, c):                                                            │trains the deeper block faster.
                                                        │      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))             │
                                                        │ +    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(ba│---
                                                        │ ↪tchnorm(conv(y, c, k=1, bias=false))))                                      │mutation of g0-1, block `head`, persona magoo, model
                                                        │      return maxpool(y, 2)                                                    │rev/ok:tui_review
                                                        │                                                                              │attempts: 1 (0 repairs)
                                                        │  def head(x):                                                                │attempt 1: valid, 43978 parameters, 7.13 MFLOPs per image
                                                        │ @@ -21,5 +22,5 @@ x = block(x, 24)                                           │
                                                        │  x = block(x, 48)                                                            │
                                                        │  return head(x)                                                              │
                                                        │                                                                              │
                                                        │ -train optimizer=sgd lr=0.05 momentum=0.9 nesterov=true weight_decay=1e-4    │
                                                        │ +train optimizer=sgd lr=0.1 momentum=0.9 nesterov=true weight_decay=1e-4     │
                                                        │        schedule=cosine epochs=1 batch=128                                    │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
same "200x50: z zooms the diff over the whole body: 200 columns, side by side by default" "$T/zoomed" <<'EOF'
 gevo s │ gen 1 │ 2 pending 0 training 0 trained 0 rejected 0 failed │ 2.0k/1.0k tokens $0.00 2 requests │ no LLM: random mutation
 Diff: g1-1 against g0-1, side by side
▶ --- a/genome.net                                                                                  │ +++ b/genome.net
  @@ -7,10 +7,11 @@ input x: 1x28x28
    7  classes 10                                                                                   │   7  classes 10
    8                                                                                               │   8
    9  def stem(x, c):                                                                              │   9  def stem(x, c):
   10 -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))                 │  10 +    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))
   11                                                                                               │  11
   12  def block(x, c):                                                                             │  12  def block(x, c):
   13      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))                              │  13      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))
                                                                                                    │  14 +    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(batchnorm(conv(y, c
                                                                                                    │     ↪, k=1, bias=false))))
   14      return maxpool(y, 2)                                                                     │  15      return maxpool(y, 2)
   15                                                                                               │  16
   16  def head(x):                                                                                 │  17  def head(x):
  @@ -21,5 +22,5 @@ x = block(x, 24)
   21  x = block(x, 48)                                                                             │  22  x = block(x, 48)
   22  return head(x)                                                                               │  23  return head(x)
   23                                                                                               │  24
   24 -train optimizer=sgd lr=0.05 momentum=0.9 nesterov=true weight_decay=1e-4                     │  25 +train optimizer=sgd lr=0.1 momentum=0.9 nesterov=true weight_decay=1e-4
   25        schedule=cosine epochs=1 batch=128                                                     │  26        schedule=cosine epochs=1 batch=128



























?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
check "200x50: z again gives the three panes back" cmp "$T/wide" "$T/unzoomed"
has "200x50 side by side: the changed words of both sides" "$T/zoomed.attrs" \
    '7: {LINENO "  10"} {DIFF_DEL "-    return relu(batchnorm(conv(x, c, k="} {DIFF_DEL_WORD,bold "3"} {DIFF_DEL ", stride=2, padding="} {DIFF_DEL_WORD,bold "1"} {DIFF_DEL ", bias=false)))"} {SEP "│"} {LINENO "  10"} {DIFF_ADD,bold "+    return relu(batchnorm(conv(x, c, k="} {DIFF_ADD_WORD,bold "5"} {DIFF_ADD,bold ", stride=2, padding="} {DIFF_ADD_WORD,bold "2"} {DIFF_ADD,bold ", bias=false)))"}'

# ---- without colour: the words underlined and reversed, a marker column --
cat >"$T/k3" <<EOF
:wait-idle
:dump $T/mono-tree
2
:dump-attrs $T/mono.attrs
EOF
NO_COLOR=1 tui "80x24 NO_COLOR" 80 24 "$T/k3" "$S" $open_args
has "NO_COLOR: removed words are underlined" "$T/mono.attrs" \
    '8: {underline,bold "3"} {underline,bold "1"}'
has "NO_COLOR: added words are reversed" "$T/mono.attrs" \
    '9: {bold "+    return relu(batchnorm(conv(x, c, k="} {reverse,bold "5"} {bold ", stride=2, padding="} {reverse,bold "2"} {bold ", bias=false)))"}'
has "NO_COLOR: the selected line of the tree has a marker" "$T/mono-tree" \
    "▶ ○  g1-1    mutation  magoo    pending        - <g0-1"
has "NO_COLOR: a generation's line moves over for the marker column" "$T/mono-tree" \
    " ▾ generation 1: 2, 2 pending (live)"

# ---- annotations on context and added lines, shown under their line ------
cat >"$T/k4" <<EOF
:wait-idle
2
<Down><Down><Down><Down><Down><Down><Down><Down><Down>
c
:dump $T/note-prompt
two paths from here<Enter>
<Down><Down>
c
the 1x1 path keeps low-level features<Enter>
:dump $T/notes
<Up><Up><Up><Up><Up>
c
:dump $T/note-old-prompt
k=3 was too narrow<Enter>
:dump $T/note-old
:resize 200 50
z
:dump $T/notes-split
EOF
tui "annotations" 80 24 "$T/k4" "$S" $open_args
check "c on a context line asks for a note on its line of the genome" sh -c "tail -n 1 '$T/note-prompt' | grep -qx 'Note for line 12:'"
same "80x24: the notes under their lines (a context line, an added wrapped line)" "$T/notes" <<'EOF'
 gen 1 │ 2 pend 0 train 0 done 0 rej 0 fail │ 3.0k tok 2 req │ no LLM
 1 Population   2 Diff   3 Reasoning  g1-1 pending
 --- a/genome.net
 +++ b/genome.net
 @@ -7,10 +7,11 @@ input x: 1x28x28
  classes 10

  def stem(x, c):
 -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))
 +    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))

  def block(x, c):
     note: two paths from here
      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))
▶+    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(batc
 ↪hnorm(conv(y, c, k=1, bias=false))))
     note: the 1x1 path keeps low-level features
      return maxpool(y, 2)

  def head(x):
 @@ -21,5 +22,5 @@ x = block(x, 24)
  x = block(x, 48)
  return head(x)
annotated g1-1
EOF
head -n 22 "$T/notes-split" >"$T/notes-split22"
same "200x50 side by side: the notes under their lines" "$T/notes-split22" <<'EOF'
 gevo s │ gen 1 │ 2 pending 0 training 0 trained 0 rejected 0 failed │ 2.0k/1.0k tokens $0.00 2 requests │ no LLM: random mutation
 Diff: g1-1 against g0-1, side by side
  --- a/genome.net                                                                                  │ +++ b/genome.net
  @@ -7,10 +7,11 @@ input x: 1x28x28
    7  classes 10                                                                                   │   7  classes 10
    8                                                                                               │   8
    9  def stem(x, c):                                                                              │   9  def stem(x, c):
▶  10 -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))                 │  10 +    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))
     note: k=3 was too narrow
   11                                                                                               │  11
   12  def block(x, c):                                                                             │  12  def block(x, c):
     note: two paths from here
   13      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))                              │  13      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))
                                                                                                    │  14 +    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(batchnorm(conv(y, c
                                                                                                    │     ↪, k=1, bias=false))))
                                                                                                          note: the 1x1 path keeps low-level features
   14      return maxpool(y, 2)                                                                     │  15      return maxpool(y, 2)
   15                                                                                               │  16
   16  def head(x):                                                                                 │  17  def head(x):
  @@ -21,5 +22,5 @@ x = block(x, 24)
   21  x = block(x, 48)                                                                             │  22  x = block(x, 48)
   22  return head(x)                                                                               │  23  return head(x)
EOF
check "c on a removed line asks for a note on the parent's line" sh -c \
    "tail -n 1 '$T/note-old-prompt' | grep -qx \"Note for the parent's line 10 (removed):\""
check "the note on a removed line is under it" sh -c \
    "grep -A1 '^▶-    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1' '$T/note-old' |
     grep -qx '     note: k=3 was too narrow'"
check "the notes are in the review note, on the lines of the new genome" python3 -c "
import json, subprocess
r = json.loads(subprocess.run(['git', '-C', '$S', 'notes', '--ref=reviews', 'show', 'g1-1'],
                              capture_output=True, text=True, check=True).stdout)
assert {'line': 12, 'text': 'two paths from here'} in r['annotations'], r
assert {'line': 14, 'text': 'the 1x1 path keeps low-level features'} in r['annotations'], r
assert {'old_line': 10, 'text': 'k=3 was too narrow'} in r['annotations'], r
"
# and they reach the LLM: the next proposal from g1-1 is told them (in a
# copy of the session, which stays as it is for what follows)
cp -r "$S" "$T/s-copy"
"$GEVO" propose "$T/s-copy" --llm "$url" --model "rev3/ok:tui_review2" --parent g1-1 --generation 2 \
    --verbose >"$T/p3" 2>&1
check "the annotations are in the next prompt" sh -c \
    "grep -q 'on g1-1, line 14: the 1x1 path keeps low-level features' '$T/p3' &&
     grep -q 'on g1-1, line 12: two paths from here' '$T/p3' &&
     grep -qF 'on g1-1, the line it removed (line 10 of g0-1: \"    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))\"): k=3 was too narrow' '$T/p3'"

# ---- D: against the marked one; the lineage view --------------------------
cat >"$T/k5" <<EOF
:wait-idle
<Down>
m
<Up>
D
:dump $T/marked
}}<Down><Down><Down><Down>
:dump $T/marked-down
D
:dump $T/parent-again
a
:wait-idle
L
:dump $T/lineage
:resize 200 50
:dump $T/lineage-wide
<Esc>
D
:dump $T/marked-wide
EOF
tui "D and the lineage" 80 24 "$T/k5" "$S" $open_args
has "80x24: D says what is compared" "$T/marked" "g1-1 against g1-2 (D: back to the parent diff)"
has "80x24: D diffs against the marked one (g1-2's 32 channels, not the parent's 48)" \
    "$T/marked-down" "▶-x = block(x, 32)"
has "D again: the parent diff" "$T/parent-again" " @@ -21,5 +22,5 @@ x = block(x, 24)"
# the accuracies are measured: masked; the parameter counts are exact
sed 's/[0-9][0-9.]*%/N%/g; s/[-+][0-9.]* pt/+N pt/' "$T/lineage" >"$T/lineage-masked"
same "80x24 lineage (L): each step back to the seed, its operator, persona, the change in accuracy and parameters" "$T/lineage-masked" <<'EOF'
 gen 1 │ 1 pend 0 train 1 done 0 rej 0 fail │ 3.0k tok 2 req │ no LLM
 Lineage
 Lineage of g1-1: 1 ancestor back to the seed (Esc: back)
 id       gen operator  persona    val acc   change  params  change  from
 g1-1       1 mutation  magoo        N%  +N pt   44.0k  +29.3k  g0-1
 g0-1       0 seed                   N%            14.6k

















Esc: back to the panes  ?: help  q: quit
EOF
has "200x50 lineage: the parents column" "$T/lineage-wide" \
    "$(sed -n 5p "$T/lineage-wide" | grep ' g1-1 .* 44.0k  +29.3k  g0-1$')"
sed -i 's/ out, [0-9.]* s$/ out, N s/' "$T/marked-wide"
head -n 30 "$T/marked-wide" >"$T/marked-wide30"
same "200x50: D against the marked one in the diff pane, its title says so" "$T/marked-wide30" <<'EOF'
 gevo s │ gen 1 │ 1 pending 0 training 1 trained 0 rejected 0 failed │ 2.0k/1.0k tokens $0.00 2 requests │ no LLM: random mutation
 training: none
 Population                                             │ Diff: g1-1 against g1-2 (marked)                                             │ Reasoning
▸ generation 0: 1                                       │ @@ -7,10 +7,11 @@ input x: 1x28x28                                           │g1-1 mutation by magoo
▾ generation 1: 2, 1 pending (live)                     │  classes 10                                                                  │parents: g0-1
  ●★ g1-1    mutation  magoo    17.6%      44.0k <g0-1  │                                                                              │model: rev/ok:tui_review, tokens 1000 in, 500 out, N s
 ◆○  g1-2    mutation  magoo    pending        - <g0-1  │  def stem(x, c):                                                             │review: approved
                                                        │ -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))│
                                                        │ +    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))│-- reasoning --
                                                        │                                                                              │A wider stem kernel sees more of each garment, and a second,
                                                        │  def block(x, c):                                                            │1x1 path
                                                        │     note: two paths from here                                                │inside every block lets it keep the low-level features; a
                                                        │      y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))             │larger step
                                                        │ +    y = add(relu(batchnorm(conv(y, c, k=3, padding=1, bias=false))), relu(ba│trains the deeper block faster.
                                                        │ ↪tchnorm(conv(y, c, k=1, bias=false))))                                      │
                                                        │     note: the 1x1 path keeps low-level features                              │---
                                                        │      return maxpool(y, 2)                                                    │mutation of g0-1, block `head`, persona magoo, model
                                                        │                                                                              │rev/ok:tui_review
                                                        │  def head(x):                                                                │attempts: 1 (0 repairs)
                                                        │ @@ -18,8 +19,8 @@ def head(x):                                               │attempt 1: valid, 43978 parameters, 7.13 MFLOPs per image
                                                        │                                                                              │
                                                        │  x = stem(x, 16)                                                             │
                                                        │  x = block(x, 24)                                                            │
                                                        │▶-x = block(x, 32)                                                            │
                                                        │ +x = block(x, 48)                                                            │
                                                        │  return head(x)                                                              │
                                                        │                                                                              │
                                                        │ -train optimizer=sgd lr=0.05 momentum=0.9 nesterov=true weight_decay=1e-4    │
                                                        │ +train optimizer=sgd lr=0.1 momentum=0.9 nesterov=true weight_decay=1e-4     │
                                                        │        schedule=cosine epochs=1 batch=128                                    │
EOF

# ---- the mouse: a click selects or focuses, the wheel scrolls --------------
cat >"$T/k6" <<EOF
:wait-idle
:click 3 4
:dump $T/click-tree
:click 17 1
:click 10 10
:dump $T/click-diff
:wheel-down 10 10
:dump $T/wheel
:resize 200 50
:click 150 3
:dump-attrs $T/click-reason
:click 20 6
:dump $T/click-wide
EOF
tui "mouse" 80 24 "$T/k6" "$S" $open_args
has "80x24: a click on a line of the tree selects it" "$T/click-tree" \
    " 1 Population   2 Diff   3 Reasoning  g1-1 trained"
has "80x24: a click on a tab shows its pane, a click on a diff line puts the cursor there" \
    "$T/click-diff" "▶+    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))"
has "80x24: the wheel moves the diff's cursor three lines (notes are not lines)" "$T/wheel" \
    "▶     y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))"
check "200x50: a click on a pane focuses it" grep -q '^2: .*{TAB_ACTIVE " Reasoning *"}$' "$T/click-reason"
check "200x50: a click on the tree selects the line" grep -q "^ Population  *│ Diff: g1-2 against g0-1 " \
    "$T/click-wide"
GEVO_MOUSE=off tui "GEVO_MOUSE=off" 80 24 "$T/k6" "$S" $open_args
has "GEVO_MOUSE=off: clicks do nothing" "$T/click-tree" \
    " 1 Population   2 Diff   3 Reasoning  g1-2 pending"

# ---- the tree in order: by number, whatever order the answers came in -----
# The first request is answered 5 s late, so the second proposal gets
# g1-1 and evolve's first slot g1-2; the tree still lists g1-1 first.
s2="$T/s2"
"$GEVO" new "$s2" >/dev/null 2>&1 || fail "setup" "gevo new failed"
steady_session "$s2"
cat >"$T/k7" <<EOF
:wait-idle
:dump $T/order
EOF
tui "the order of the tree" 80 24 "$T/k7" "$s2" --llm "$url" --model "ord/slow:5000:tui_p1,ok:tui_p2" \
    --offspring 2 --subset 300
check "the answer that came first (tui_p2) is g1-1, the late one g1-2" sh -c \
    "git -C '$s2' show g1-1:response.txt | grep -q 'x = block(x, 28)' &&
     git -C '$s2' show g1-2:response.txt | grep -q 'x = block(x, 20)'"
check "the tree lists a generation by number" sh -c \
    "test \"\$(sed -n 's/^  ○  \(g1-[0-9]\) .*/\1/p' '$T/order' | tr '\n' ' ')\" = 'g1-1 g1-2 '"

# ---- the keys: every new one is in the help, which says how lines wrap ----
printf ':resize 120 200\n?\n:dump %s\n' "$T/help" >"$T/k8"
tui "help" 120 24 "$T/k8" "$S" $open_args
for k in '}  *the cursor to the next hunk  \[hunk-next\]' '{  *the cursor to the start of the hunk' \
    's  *side by side or unified' 'z  *the focused pane over the whole screen' \
    'D  *diff against the marked individual' 'L  *ancestors back to the seed'; do
    check "help: $k" grep -q "^   $k" "$T/help"
done
check "help: long lines wrap" grep -q "^ Long lines are never cut: they wrap" "$T/help"

# ---- failed proposals (item 6) and the session's totals (item 7) ----------
# Every answer of the first proposal fails the checks (the fake server has
# no answer file "nope"): it is recorded as g1-f1, shown with its reason,
# its answers readable; it is still there after reopening; R asks again in
# its slot with a steering note (the fourth request is answered well). The
# header's totals are the session's, across the three processes.
s3="$T/s3"
"$GEVO" new "$s3" >/dev/null 2>&1 || fail "setup" "gevo new failed"
steady_session "$s3"
llm3="--llm $url --model fl/ok:nope,ok:nope,ok:nope,ok:tui_p1 --offspring 1 --subset 300"
cat >"$T/k9" <<EOF
:wait-idle
<Down><Down><Down>
:dump $T/failed-tree
3
:dump $T/failed-reason
2
:dump $T/failed-diff
EOF
tui "failed proposal 80x24" 80 24 "$T/k9" "$s3" $llm3
cat >"$T/k10" <<EOF
:wait-idle
<Down><Down><Down>
:dump $T/failed-reopened
R
use a wider stem<Enter>
:wait-idle
:dump $T/failed-again
EOF
tui "failed proposal 200x50, reopened" 200 50 "$T/k10" "$s3" $llm3
printf ':wait-idle\n<Down><Down><Down>\n:dump %s\n' "$T/totals80" >"$T/k11"
tui "totals 80x24, reopened without an LLM" 80 24 "$T/k11" "$s3" --llm none --offspring 1 --subset 300
sed -i 's/, [0-9.]* s, finish/, N s, finish/' "$T/failed-reason"
# the fake server's port and the seconds an answer took vary
sed -i 's/127\.0\.0\.1:[0-9]*/127.0.0.1:PORT/; s/[0-9][0-9]*\.[0-9]* s, finish/N s, finish/; s/out, [0-9.]* s *$/out, N s/' \
    "$T/failed-reopened" "$T/failed-again"
same "80x24: a failed proposal in the tree, its id and its reason after its parent" "$T/failed-tree" <<'EOF'
 gen 1 │ 0 pend 0 train 0 done 0 rej 1 fail │ 4.5k tok 3 req │ fl/ok:nope,ok:nop
 1 Population   2 Diff   3 Reasoning  g1-f1 failed
▸ generation 0: 1
▾ generation 1: 1 (live)
  !  g1-f1   mutation  plain    failed         - <g0-1  no valid proposal after


















?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
same "80x24 reasoning pane of a failed proposal: why, every check error, every answer" "$T/failed-reason" <<'EOF'
 gen 1 │ 0 pend 0 train 0 done 0 rej 1 fail │ 4.5k tok 3 req │ fl/ok:nope,ok:nop
 1 Population   2 Diff   3 Reasoning  g1-f1 failed
g1-f1 failed proposal: mutation by plain
parents: g0-1
failed: no valid proposal after 3 attempts; the last answer: no usable code:
the answer contains no code; give the whole new block `head` in a ```gevo code
block, from its `def head(` line to its return
R asks again in this slot (with an optional steering note)

-- what gevo's checks said --
attempt 1: no usable code: the answer contains no code; give the whole new
block `head` in a ```gevo code block, from its `def head(` line to its return
attempt 2: no usable code: the answer contains no code; give the whole new
block `head` in a ```gevo code block, from its `def head(` line to its return
attempt 3: no usable code: the answer contains no code; give the whole new
block `head` in a ```gevo code block, from its `def head(` line to its return


-- every answer, as it came --
===== attempt 1 of 3: model fl/ok:nope,ok:nope,ok:nope,ok:tui_p1, 1000 tokens
in, 500 out, N s, finish "stop" =====
fake server: no answer file named 'nope'

?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
has "80x24 diff pane of a failed proposal: what failed, where its answers are" "$T/failed-diff" \
    " R asks again in this slot, with an optional steering note."
same "200x50, reopened: the failed proposal in the tree, why in the diff pane, its checks and answers in the reasoning pane" "$T/failed-reopened" <<'EOF'
 gevo s3 │ gen 1 │ 0 pending 0 training 0 trained 0 rejected 1 failed │ 3.0k/1.5k tokens $0.00 3 requests │ fl/ok:nope,ok:nope,ok:nope,ok:tui_p1 @ http://127.0.0.1:PORT/v1
 training: none
 Population                                             │ Diff                                                                         │ Reasoning
▸ generation 0: 1                                       │▶failed proposal g1-f1: no valid proposal after 3 attempts; the last answer: n│g1-f1 failed proposal: mutation by plain
▾ generation 1: 1 (live)                                │ ↪o usable code: the answer contains no code; give the whole new block `head` │parents: g0-1
  !  g1-f1   mutation  plain    failed         - <g0-1  │ ↪in a ```gevo code block, from its `def head(` line to its return            │failed: no valid proposal after 3 attempts; the last answer: no
                                                        │                                                                              │usable code: the answer contains no code; give the whole new
                                                        │ Its answers and every check error are in the reasoning pane (t: the prompts).│block `head` in a ```gevo code block, from its `def head(` line
                                                        │ R asks again in this slot, with an optional steering note.                   │to its return
                                                        │                                                                              │R asks again in this slot (with an optional steering note)
                                                        │                                                                              │
                                                        │                                                                              │-- what gevo's checks said --
                                                        │                                                                              │attempt 1: no usable code: the answer contains no code; give
                                                        │                                                                              │the whole new block `head` in a ```gevo code block, from its
                                                        │                                                                              │`def head(` line to its return
                                                        │                                                                              │attempt 2: no usable code: the answer contains no code; give
                                                        │                                                                              │the whole new block `head` in a ```gevo code block, from its
                                                        │                                                                              │`def head(` line to its return
                                                        │                                                                              │attempt 3: no usable code: the answer contains no code; give
                                                        │                                                                              │the whole new block `head` in a ```gevo code block, from its
                                                        │                                                                              │`def head(` line to its return
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │-- every answer, as it came --
                                                        │                                                                              │===== attempt 1 of 3: model
                                                        │                                                                              │fl/ok:nope,ok:nope,ok:nope,ok:tui_p1, 1000 tokens in, 500 out,
                                                        │                                                                              │N s, finish "stop" =====
                                                        │                                                                              │fake server: no answer file named 'nope'
                                                        │                                                                              │
                                                        │                                                                              │===== attempt 2 of 3: model
                                                        │                                                                              │fl/ok:nope,ok:nope,ok:nope,ok:tui_p1, 1000 tokens in, 500 out,
                                                        │                                                                              │N s, finish "stop" =====
                                                        │                                                                              │fake server: no answer file named 'nope'
                                                        │                                                                              │
                                                        │                                                                              │===== attempt 3 of 3: model
                                                        │                                                                              │fl/ok:nope,ok:nope,ok:nope,ok:tui_p1, 1000 tokens in, 500 out,
                                                        │                                                                              │N s, finish "stop" =====
                                                        │                                                                              │fake server: no answer file named 'nope'
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
check "200x50, reopened: the failed proposal is still there, in the tree" \
    grep -q '^  !  g1-f1   mutation  plain    failed         - <g0-1  │' "$T/failed-reopened"
check "200x50, reopened: the header has the session's totals (the first process's 3 requests)" \
    grep -qF ' gevo s3 │ gen 1 │ 0 pending 0 training 0 trained 0 rejected 1 failed │ 3.0k/1.5k tokens $0.00 3 requests │ ' \
    "$T/failed-reopened"
check "200x50: R asked again in the slot: g1-1 where g1-f1 was" \
    grep -q '^  ○  g1-1    mutation  magoo    pending        - <g0-1  │' "$T/failed-again"
check "200x50: no g1-f1 left in the tree" sh -c "! sed '\$d' '$T/failed-again' | cut -c1-60 | grep -q 'g1-f1'"
has "200x50: the message says what R did" "$T/failed-again" "asking again for g1-f1 in its slot, with the steering note"
same "200x50: asked again in the slot, what it was asked again for and with which note" "$T/failed-again" <<'EOF'
 gevo s3 │ gen 1 │ 1 pending 0 training 0 trained 0 rejected 0 failed │ 4.0k/2.0k tokens $0.00 4 requests │ fl/ok:nope,ok:nope,ok:nope,ok:tui_p1 @ http://127.0.0.1:PORT/v1
 training: none
 Population                                             │ Diff: g1-1 against g0-1                                                      │ Reasoning
▸ generation 0: 1                                       │▶--- a/genome.net                                                             │g1-1 mutation by magoo
▾ generation 1: 1, 1 pending (live)                     │ +++ b/genome.net                                                             │parents: g0-1
  ○  g1-1    mutation  magoo    pending        - <g0-1  │ @@ -1,8 +1,3 @@                                                              │asked again for failed proposal g1-f1, steering: use a wider
                                                        │ -# quick: the interactive default seed. Small and fast (about 2.5 MFLOPs     │stem
                                                        │ -# per 28x28 image, a few seconds per epoch on 10,000 images on 2 cores),    │model: fl/ok:nope,ok:nope,ok:nope,ok:tui_p1, tokens 1000 in,
                                                        │ -# plain enough that an LLM has room to improve it: no residuals, no         │500 out, N s
                                                        │ -# squeeze-excitation, one activation everywhere, no augmentation.           │
                                                        │ -                                                                            │-- reasoning --
                                                        │  input x: 1x28x28                                                            │Slimming both blocks a little keeps the accuracy of this small
                                                        │  classes 10                                                                  │network at fewer parameters: the first block to 20 channels,
                                                        │                                                                              │the second to 40.
                                                        │ @@ -17,8 +12,8 @@ def head(x):                                               │
                                                        │      return linear(gap(x), classes)                                          │---
                                                        │                                                                              │mutation of g0-1, block `stem`, persona magoo, model
                                                        │  x = stem(x, 16)                                                             │fl/ok:nope,ok:nope,ok:nope,ok:tui_p1
                                                        │ -x = block(x, 24)                                                            │attempts: 1 (0 repairs)
                                                        │ -x = block(x, 48)                                                            │attempt 1: valid, 10786 parameters, 1.92 MFLOPs per image
                                                        │ +x = block(x, 20)                                                            │
                                                        │ +x = block(x, 40)                                                            │
                                                        │  return head(x)                                                              │
                                                        │                                                                              │
                                                        │  train optimizer=sgd lr=0.05 momentum=0.9 nesterov=true weight_decay=1e-4    │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
                                                        │                                                                              │
asking again for g1-f1 in its slot, with the steering note
EOF
check "200x50: the totals count the fourth request" \
    grep -qF ' gevo s3 │ gen 1 │ 1 pending 0 training 0 trained 0 rejected 0 failed │ 4.0k/2.0k tokens $0.00 4 requests │ ' \
    "$T/failed-again"
same "80x24, reopened a third time without an LLM: the totals of every process" "$T/totals80" <<'EOF'
 gen 1 │ 1 pend 0 train 0 done 0 rej 0 fail │ 6.0k tok 4 req │ no LLM
 1 Population   2 Diff   3 Reasoning  g1-1 pending
▸ generation 0: 1
▾ generation 1: 1, 1 pending (live)
  ○  g1-1    mutation  magoo    pending        - <g0-1


















?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
check "the new proposal names the failed one it was asked again for" sh -c \
    "git -C '$s3' show g1-1:meta.json | grep -qF '\"retry_of\": \"g1-f1\"'"
check "and its prompt has the steering note" sh -c "git -C '$s3' show g1-1:prompt.txt | grep -q 'use a wider stem'"
check "and records the steering note" sh -c \
    "git -C '$s3' show g1-1:meta.json | grep -qF '\"steering\": \"use a wider stem'"
check "the failed proposal is refs/failed/g1-f1" sh -c \
    "git -C '$s3' log -1 --format=%s refs/failed/g1-f1 | grep -q '^g1-f1 gen 1 mutation (plain) failed: no valid proposal after 3 attempts'"
"$GEVO" log "$s3" >"$T/log3" 2>&1
check "gevo log counts it" grep -q "^generation 1: 1 individual, 1 failed proposal$" "$T/log3"
