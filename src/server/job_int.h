/*
 * server/job_int.h - a generation job's fields, shared by job.c (life cycle, waiting,
 * streaming) and job_fmt.c (the JSON and SSE text of each endpoint).
 */
#ifndef COVE_SERVER_JOB_INT_H
#define COVE_SERVER_JOB_INT_H

#include "server/server_int.h"

/* How far a streamed chat answer with tools has got in telling text from calls. */
enum srv_tool_state { SRV_TOOLS_UNDECIDED = 0, SRV_TOOLS_TEXT, SRV_TOOLS_CALLS };

struct srv_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* any news: an event, the end, the client gone */
    int refs;               /* the scheduler side and the connection side */
    cove_server *s;
    srv_job_spec spec;      /* its cove_sched_request pointers are not used after submit */
    cove_sched_id sid;
    char id[32];            /* random part of the response id */
    long created;
    int fd;                 /* the client's socket, to notice it closing; -1 unknown */
    int done, gone;
    double t_submit, t_first;
    /* streaming */
    struct cove_buf out;    /* SSE text not yet handed to libmicrohttpd */
    size_t out_off;
    enum srv_tool_state tool_state;
    struct cove_buf held;   /* chat with tools: text held until it is known not a call */
    /* the result, from on_done */
    struct cove_buf text;
    int text_cut;
    enum cove_sched_finish finish;
    cove_status status;
    char errmsg[COVE_ERROR_MSG_MAX];
    char stop_word[COVE_SCHED_MAX_STOP_LEN + 1];
    int32_t n_prompt, n_cached, n_gen;
    double t_queue_ms, t_prompt_ms, t_gen_ms;
    json_t *logprobs;       /* per-token entries, llama/chat style; NULL when not asked */
    const char *tenant;     /* for the audit log (owned by the server's key table) */
};

/* job_fmt.c; all called with mu held. */
void srv_job_add_logprob(srv_job *j, const cove_sched_token *ev);
void srv_job_stream_start(srv_job *j);
void srv_job_stream_event(srv_job *j, const cove_sched_token *ev);
void srv_job_stream_end(srv_job *j);
/* The JSON response of a finished non-streaming job (mu not held; the job is done). */
struct MHD_Response *srv_job_reply(srv_conn *c, srv_job *j);

#endif
