/* End to end over real HTTP: the fake server answers with no code, with a
 * program that does not validate, or cut off; the client, the proposal
 * check and the repair prompt handle each with a clear error, and a repair
 * round turns an invalid answer into a valid candidate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/llm.h"
#include "core/prompt.h"
#include "core/proposal.h"
#include "engine/base/file.h"
#include "tests/fake_llm/fake_llm.h"
#include "tests/harness.h"

static fake_llm srv;
static char *parent;
static prompt_set set;

/* Asks for a mutation of gene and checks the answer. */
static int propose(llm_client *c, const char *gene, llm_result *res, proposal_outcome *o)
{
    char *sys, *user;
    gerr err = GERR_INIT;
    prompt_args a = {.program = parent, .gene_name = gene, .gene = "(the block)"};
    CHECK(prompt_build(&set, PROMPT_MUTATE, 0, &a, &sys, &user, &err) == 0, "%s", err.msg);
    int rc = llm_complete(c, sys, user, NULL, res);
    free(sys);
    free(user);
    CHECK(rc == 0, "request: %s", res->error);
    return proposal_check(res->content, res->content_len, res->truncated, parent, gene, NULL, NULL,
                          o);
}

static void test_no_code(void)
{
    llm_client *c = fake_llm_client(&srv, "nc/ok:12_prose_only");
    llm_result res;
    proposal_outcome o;
    CHECK(propose(c, "se", &res, &o) == -1, "prose accepted");
    CHECK(o.stage == PROPOSAL_ERR_PARSE, "stage %s", proposal_stage_name(o.stage));
    CHECK(strstr(o.error, "no code") != NULL, "%s", o.error);
    CHECK(strstr(o.reasoning, "Fashion-MNIST") != NULL, "prose kept as reasoning");
    CHECK_EQ_INT(res.attempts, 1); /* a bad answer is not a transport fault */
    proposal_outcome_release(&o);
    llm_result_release(&res);
    llm_client_free(c);
}

static void test_cut_off(void)
{
    llm_client *c = fake_llm_client(&srv, "co/length:11_truncated");
    llm_result res;
    proposal_outcome o;
    CHECK(propose(c, "block", &res, &o) == -1, "cut-off accepted");
    CHECK(res.truncated, "finish_reason length seen");
    CHECK(o.stage == PROPOSAL_ERR_PARSE && strstr(o.error, "cut off"), "%s", o.error);
    proposal_outcome_release(&o);
    llm_result_release(&res);
    llm_client_free(c);
}

static void test_invalid_then_repair(void)
{
    const char *model = "rp/ok:20_invalid_shapes,ok:17_helper_def";
    llm_client *c = fake_llm_client(&srv, model);
    llm_result res;
    proposal_outcome o;
    CHECK(propose(c, "block", &res, &o) == -1, "invalid accepted");
    CHECK(o.stage == PROPOSAL_ERR_INVALID, "stage %s", proposal_stage_name(o.stage));
    CHECK(strstr(o.error, "24x14x14 and 16x14x14") != NULL, "%s", o.error);

    /* the repair round: the exact error and the failed answer go back */
    char *sys, *user;
    gerr err = GERR_INIT;
    prompt_args a = {.program = parent,
                     .gene_name = "block",
                     .failed_answer = res.content,
                     .failed_program = o.program,
                     .error = o.error};
    CHECK(prompt_build(&set, PROMPT_REPAIR, 0, &a, &sys, &user, &err) == 0, "%s", err.msg);
    llm_result res2;
    CHECK(llm_complete(c, sys, user, NULL, &res2) == 0, "%s", res2.error);
    json_t *st = fake_llm_stats(&srv);
    const char *sent = json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(st, "last"), "messages"), 1), "content"));
    CHECK(sent && strstr(sent, o.error), "the repair request carries the exact error");
    json_decref(st);
    proposal_outcome o2;
    CHECK(proposal_check(res2.content, res2.content_len, res2.truncated, parent, "block", NULL,
                         NULL, &o2) == 0,
          "repaired: %s", o2.error);
    CHECK(o2.params > 0 && strstr(o2.program, "def dwsep"), "candidate");
    CHECK_EQ_INT(fake_llm_count(&srv, model), 2);
    llm_usage u = llm_client_usage(c);
    CHECK_EQ_INT(u.calls, 2);
    CHECK_EQ_INT(u.tokens_in, 2000);
    free(sys);
    free(user);
    proposal_outcome_release(&o);
    proposal_outcome_release(&o2);
    llm_result_release(&res);
    llm_result_release(&res2);
    llm_client_free(c);
}

int main(void)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/tests/fixtures/answers/parent.net", harness_root());
    parent = harness_slurp(path, NULL);
    snprintf(path, sizeof path, "%s/prompts", harness_root());
    gerr err = GERR_INIT;
    if (!parent || prompt_set_load(&set, path, &err))
        return SETUP_FAILED("fixtures: %s", parent ? err.msg : "no parent.net");
    if (fake_llm_start(&srv))
        return SETUP_FAILED("could not start tests/fake_llm/server.py with python3");
    RUN(test_no_code);
    RUN(test_cut_off);
    RUN(test_invalid_then_repair);
    fake_llm_stop(&srv);
    prompt_set_release(&set);
    free(parent);
    return harness_done();
}
