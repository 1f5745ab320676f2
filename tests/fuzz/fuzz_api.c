/* The control socket's JSON requests, through the real server: each input
 * is what one client sends before it hangs up; the harness serves it
 * (api_server_poll) and reads the replies, as `keel ctl` would.
 *
 * "snapshot" and "suspend" write files at paths the request names, so an
 * input that contains either (as jansson decodes it, escapes and all) is
 * skipped: the fuzzer must not scribble over the host.  "clone" is
 * answered as a failed clone; "quit" and "pause" only set flags. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz_common.h"
#include "svc/api/api.h"

static struct machine m;
static struct api_server server;
static char sock_path[256];

static size_t console_input(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque, (void)buf;
	return len;
}

static size_t console_room(void *opaque)
{
	(void)opaque;
	return 4096;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	struct machine_config cfg = {.board = BOARD_BARE, .ram_size = 1u << 16,
				     .entropy_seeded = true, .rtc_epoch_ns = 1};
	char err[512];
	if (machine_init(&m, &cfg, err, sizeof(err)))
		fuzz_die("machine_init", err);
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", fuzz_scratch_dir());
	if (api_server_open(&server, sock_path, (uid_t)-1, err, sizeof(err)))
		fuzz_die("api_server_open", err);
	return 0;
}

/* Would the server write a file for any line of this input? */
static bool writes_files(const uint8_t *data, size_t size)
{
	size_t start = 0;
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
		json_t *req = json_loadb((const char *)data + start, len, JSON_DECODE_ANY, NULL);
		const char *cmd = json_string_value(json_object_get(req, "cmd"));
		bool bad = cmd && (!strcmp(cmd, "snapshot") || !strcmp(cmd, "suspend"));
		json_decref(req);
		if (bad)
			return true;
		start += len + 1;
	}
	return false;
}

static int connect_client(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		fuzz_die("connect", strerror(errno));
	return fd;
}

/* One round: serve, then answer what the host loop would have. */
static void serve(struct api_actions *a)
{
	api_server_poll(&server, &m, a);
	if (a->clone_pending) {
		struct clone_result r = {0};
		snprintf(r.err, sizeof(r.err), "fuzz: no clones here");
		a->clone_pending = false;
		api_server_clone_done(&server, &r, false, NULL);
	}
	a->quit_requested = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (writes_files(data, size))
		return -1;
	struct api_actions a = {.console_input = console_input, .console_room = console_room};
	int fd = connect_client();
	size_t sent = 0;
	bool closed = false;
	static char reply[1 << 16];
	for (int round = 0; round < 64 && !closed; round++) {
		if (sent < size) {
			ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		if (sent == size)
			shutdown(fd, SHUT_WR);
		serve(&a);
		for (;;) {
			ssize_t n = recv(fd, reply, sizeof(reply), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				closed = true;
			if (n <= 0)
				break;
		}
	}
	close(fd);
	serve(&a); /* the server notices the hang-up and frees the slot */
	return 0;
}
