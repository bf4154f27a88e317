/* `gevo show DIR ID`: one individual, everything the session holds on it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/confirm.h"
#include "core/export_session.h"
#include "core/noise.h"
#include "core/rungs.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "show",
    "Shows one individual (ID like g2-7, or a commit hash prefix): metadata, genome,\n"
    "reasoning, result, review, the diff against its parent and the researcher's edit.\n",
    NULL,
    2,
    "a session folder and an individual id are needed",
};

static int run(void *vo, const cli_args *args)
{
    const char *dir = args->v[0], *which = args->v[1];
    session *s = cli_session_open("show", dir, SESSION_READ);
    if (!s)
        return CLI_FAIL;
    char id[SESSION_ID_MAX];
    session_info x;
    char *genome = NULL, *reasoning = NULL, *result = NULL, *review = NULL, *diff = NULL,
         *edit = NULL, *confirm = NULL, *noise = NULL;
    noise_info ni;
    int rc = CLI_FAIL;
    gerr serr = GERR_INIT;
    if (session_resolve(s, which, id, &serr) != 0 || session_info_get(s, id, &x, &serr) != 0 ||
        session_genome(s, id, &genome, &serr) != 0 ||
        session_file(s, id, "reasoning.md", &reasoning, &serr) ||
        session_get_result(s, id, &result, &serr) != 0 ||
        session_get_review(s, id, &review, &serr) != 0 ||
        session_diff(s, NULL, id, false, &diff, &serr) != 0 ||
        session_edit_diff(s, id, &edit, &serr) != 0 ||
        session_get_note(s, CONFIRM_NOTE, id, &confirm, &serr) ||
        session_get_note(s, NOISE_NOTE, id, &noise, &serr) || noise_read(s, &ni, &serr)) {
        cli_error("show", "%s", serr.msg);
        goto done;
    }
    cli_line(stdout, "individual %s  commit %s", x.id, x.commit);
    cli_line(stdout, "generation %d  operator %s  persona %s", x.generation, x.op,
             x.persona[0] ? x.persona : "-");
    if (x.n_parents)
        cli_line(stdout, "parents    %s%s%s", x.parents[0], x.n_parents > 1 ? " " : "",
                 x.n_parents > 1 ? x.parents[1] : "");
    if (x.model[0])
        cli_line(stdout, "model      %s  tokens %ld in, %ld out  latency %.2f s", x.model,
                 x.tokens_in, x.tokens_out, x.latency_s);
    cli_line(stdout, "status     %s%s%s", x.status, x.decision[0] ? "  review " : "", x.decision);
    char wline[512];
    export_session_weights_line(s, x.id, result, wline, sizeof wline);
    cli_line(stdout, "weights    %s", wline);
    if (x.val_acc >= 0) {
        char acc[48], fid[96] = "screening";
        noise_format_acc(acc, sizeof acc, x.val_acc, x.rung, &ni);
        rungs rs;
        if (x.rung > 0 && rungs_session(s, &rs, NULL) == 0 && x.rung < rs.n)
            rungs_describe(&rs.r[x.rung], fid, sizeof fid);
        cli_line(stdout, "accuracy   val %s  rung %d (%s)%s", acc, x.rung, fid,
                 x.rung == 0 && isfinite(ni.std) ? "  ± one sd of the seed's screening runs" : "");
    }
    confirm_info ci;
    if (confirm_read(s, id, &ci, NULL) == 0 && ci.present && ci.n > 0)
        cli_line(stdout, "confirmed  val %.2f%% ±%.2f  test %.2f%% ±%.2f  over %d seed%s%s",
                 100 * ci.val_mean, isfinite(ci.val_std) ? 100 * ci.val_std : 0, 100 * ci.test_mean,
                 isfinite(ci.test_std) ? 100 * ci.test_std : 0, ci.n, ci.n == 1 ? "" : "s",
                 ci.complete ? "" : " (incomplete: gevo confirm continues)");
    cli_section("genome (genome.net)", genome);
    cli_section("reasoning", reasoning);
    cli_section("result (refs/notes/results)", result);
    cli_section("review (refs/notes/reviews)", review);
    if (noise)
        cli_section("noise (refs/notes/noise)", noise);
    if (confirm)
        cli_section("confirm (refs/notes/confirm)", confirm);
    char title[96];
    snprintf(title, sizeof title, "diff against parent %s", x.n_parents ? x.parents[0] : "(seed)");
    cli_section(title, diff);
    if (x.edited)
        cli_section("researcher's edit", edit);
    rc = CLI_OK;
done:
    free(genome);
    free(reasoning);
    free(result);
    free(review);
    free(diff);
    free(edit);
    free(confirm);
    free(noise);
    session_close(s);
    return rc;
}

/* no options */
const cli_def cmd_show = {&spec, NULL, 0, NULL, run};
