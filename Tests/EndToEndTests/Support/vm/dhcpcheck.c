/*
 * dhcpcheck: a DHCP client of the kind that reads raw frames and checks the UDP checksum
 * itself (ISC dhclient does, and ignores what the kernel says about it). It broadcasts a
 * DHCPDISCOVER, takes the first DHCPOFFER for it, and prints one line:
 *
 *   DHCPCHECK offer=A.B.C.D checksum=0xNNNN verdict=none|valid|invalid csum_not_ready=0|1
 *
 * verdict: none (the field is 0: no checksum, accepted over IPv4), valid, or invalid (what
 * such a client drops). csum_not_ready: the checksum was left to be filled.
 *
 *   dhcpcheck IFACE      in the virtio guest: an AF_PACKET socket on IFACE; csum_not_ready
 *                        is PACKET_AUXDATA's TP_STATUS_CSUMNOTREADY.
 *   dhcpcheck --tap TAP  on the host, TAP's queue opened as vhost-net gets it (a virtio
 *                        header, checksum offload on): the frames as they would enter the
 *                        guest's ring; csum_not_ready is the header's NEEDS_CSUM.
 *
 * Exit 0 when an offer came, 1 when none came in 30 seconds.
 * Build: gcc -static -O2 -o dhcpcheck dhcpcheck.c
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { BOOTP_LEN = 300, OPTIONS_AT = 240 }; /* RFC 951's minimum size; options after the cookie */
static const uint8_t cookie[4] = {99, 130, 83, 99};
static const uint8_t tap_client_mac[6] = {0x52, 0x54, 0x00, 0xc5, 0x00, 0x01};

/* The Internet checksum's running sum of LEN bytes. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum) {
    for (; len > 1; p += 2, len -= 2) sum += (uint32_t)p[0] << 8 | p[1];
    if (len) sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The sum of the UDP pseudo-header, header and payload, the checksum field included. */
static uint16_t udp_sum(const struct iphdr *ip, const uint8_t *udp, uint16_t len) {
    uint8_t pseudo[12];
    memcpy(pseudo, &ip->saddr, 4);
    memcpy(pseudo + 4, &ip->daddr, 4);
    pseudo[8] = 0, pseudo[9] = IPPROTO_UDP, pseudo[10] = len >> 8, pseudo[11] = len & 0xff;
    return fold(sum16(udp, len, sum16(pseudo, sizeof pseudo, 0)));
}

static long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000L + now.tv_nsec / 1000000;
}

/* A broadcast DHCPDISCOVER from MAC with XID, checksums filled; its length. */
static size_t discover(uint8_t *frame, const uint8_t mac[6], uint32_t xid) {
    struct ether_header *eth = (struct ether_header *)frame;
    struct iphdr *ip = (struct iphdr *)(frame + sizeof *eth);
    struct udphdr *udp = (struct udphdr *)(ip + 1);
    uint8_t *bootp = (uint8_t *)(udp + 1);
    uint16_t udp_len = sizeof *udp + BOOTP_LEN;

    memset(frame, 0, sizeof *eth + sizeof *ip + udp_len);
    memset(eth->ether_dhost, 0xff, 6);
    memcpy(eth->ether_shost, mac, 6);
    eth->ether_type = htons(ETHERTYPE_IP);
    ip->version = 4, ip->ihl = 5, ip->ttl = 64, ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(sizeof *ip + udp_len);
    ip->saddr = htonl(INADDR_ANY), ip->daddr = htonl(INADDR_BROADCAST);
    ip->check = htons(~fold(sum16((uint8_t *)ip, sizeof *ip, 0)) & 0xffff);
    udp->source = htons(68), udp->dest = htons(67), udp->len = htons(udp_len);

    bootp[0] = 1, bootp[1] = 1, bootp[2] = 6; /* BOOTREQUEST over Ethernet */
    memcpy(bootp + 4, &xid, 4);
    memcpy(bootp + 28, mac, 6); /* chaddr */
    memcpy(bootp + 236, cookie, 4);
    const uint8_t options[] = {53, 1, 1, 55, 3, 1, 3, 6, 255}; /* DISCOVER; asks for mask, router, DNS */
    memcpy(bootp + OPTIONS_AT, options, sizeof options);

    uint16_t sum = ~udp_sum(ip, (uint8_t *)udp, udp_len) & 0xffff;
    udp->check = htons(sum ? sum : 0xffff);
    return sizeof *eth + sizeof *ip + udp_len;
}

/* Whether BOOTP (LEN bytes) is a DHCPOFFER for XID. */
static int is_offer(const uint8_t *bootp, size_t len, uint32_t xid) {
    if (len < OPTIONS_AT || bootp[0] != 2 || memcmp(bootp + 4, &xid, 4) || memcmp(bootp + 236, cookie, 4)) return 0;
    for (size_t i = OPTIONS_AT; i + 1 < len && bootp[i] != 255;) {
        if (bootp[i] == 0) { i++; continue; }
        if (bootp[i] == 53 && bootp[i + 1] == 1 && i + 2 < len) return bootp[i + 2] == 2;
        i += 2 + bootp[i + 1];
    }
    return 0;
}

/* Prints the line for FRAME (LEN bytes) when it is a DHCPOFFER for XID; whether it was. */
static int report(const uint8_t *frame, size_t len, uint32_t xid, int not_ready) {
    const struct iphdr *ip = (const struct iphdr *)(frame + sizeof(struct ether_header));
    if (len < sizeof(struct ether_header) + sizeof *ip + sizeof(struct udphdr) || ip->protocol != IPPROTO_UDP) return 0;
    const uint8_t *udp = (const uint8_t *)ip + ip->ihl * 4;
    const struct udphdr *header = (const struct udphdr *)udp;
    uint16_t udp_len = ntohs(header->len);
    if (ntohs(header->dest) != 68 || udp_len < sizeof *header || udp + udp_len > frame + len) return 0;
    if (!is_offer(udp + sizeof *header, udp_len - sizeof *header, xid)) return 0;

    uint16_t field = ntohs(header->check);
    const char *verdict = field == 0 ? "none" : udp_sum(ip, udp, udp_len) == 0xffff ? "valid" : "invalid";
    char offer[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, udp + sizeof *header + 16, offer, sizeof offer); /* yiaddr */
    printf("DHCPCHECK offer=%s checksum=0x%04x verdict=%s csum_not_ready=%d\n", offer, field, verdict, not_ready);
    return 1;
}

/* Where frames come and go: an AF_PACKET socket on a device, or a tap's queue. */
struct port {
    int fd, tap;
    struct sockaddr_ll link;
    uint8_t mac[6];
};

static int open_packet(struct port *port, const char *name) {
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int on = 1;
    port->fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (port->fd < 0 || ioctl(port->fd, SIOCGIFINDEX, &ifr) < 0) return -1;
    port->link = (struct sockaddr_ll){.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifr.ifr_ifindex};
    if (ioctl(port->fd, SIOCGIFHWADDR, &ifr) < 0 || bind(port->fd, (struct sockaddr *)&port->link, sizeof port->link) < 0 ||
        setsockopt(port->fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof on) < 0)
        return -1;
    memcpy(port->mac, ifr.ifr_hwaddr.sa_data, 6);
    port->link.sll_halen = 6;
    memset(port->link.sll_addr, 0xff, 6);
    return 0;
}

/* The tap's queue as QEMU hands it to vhost-net once the guest took VIRTIO_NET_F_GUEST_CSUM. */
static int open_tap(struct port *port, const char *name) {
    struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int header = sizeof(struct virtio_net_hdr);
    port->tap = 1;
    port->fd = open("/dev/net/tun", O_RDWR);
    if (port->fd < 0 || ioctl(port->fd, TUNSETIFF, &ifr) < 0 || ioctl(port->fd, TUNSETVNETHDRSZ, &header) < 0 ||
        ioctl(port->fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
        return -1;
    memcpy(port->mac, tap_client_mac, 6);
    return 0;
}

static void send_frame(const struct port *port, uint8_t *frame, size_t len) {
    struct virtio_net_hdr header = {0}; /* a complete checksum, no segmentation */
    struct iovec parts[2] = {{&header, sizeof header}, {frame, len}};
    ssize_t sent = port->tap ? writev(port->fd, parts, 2)
                             : sendto(port->fd, frame, len, 0, (const struct sockaddr *)&port->link, sizeof port->link);
    if (sent < 0) perror("dhcpcheck: send");
}

/* One frame into FRAME; its length (or -1), and whether its checksum was left unfilled. */
static ssize_t receive_frame(const struct port *port, uint8_t *frame, size_t size, int *not_ready) {
    if (port->tap) {
        struct virtio_net_hdr header;
        struct iovec parts[2] = {{&header, sizeof header}, {frame, size}};
        ssize_t got = readv(port->fd, parts, 2);
        *not_ready = got > 0 && (header.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
        return got - (ssize_t)sizeof header;
    }
    union { struct cmsghdr align; char buffer[CMSG_SPACE(sizeof(struct tpacket_auxdata))]; } control;
    struct iovec iov = {frame, size};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
    ssize_t got = recvmsg(port->fd, &msg, 0);
    *not_ready = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); got > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
            *not_ready = (((struct tpacket_auxdata *)CMSG_DATA(c))->tp_status & TP_STATUS_CSUMNOTREADY) != 0;
    }
    return got;
}

int main(int argc, char **argv) {
    struct port port = {0};
    int tap = argc > 2 && strcmp(argv[1], "--tap") == 0;
    const char *name = argv[argc - 1];
    if (argc < 2 || (tap ? open_tap(&port, name) : open_packet(&port, name)) < 0) {
        perror(argc < 2 ? "usage: dhcpcheck IFACE | --tap TAP" : name);
        return 2;
    }
    uint32_t xid = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
    uint8_t request[1500], frame[2048];
    size_t request_len = discover(request, port.mac, xid);
    for (int attempt = 0; attempt < 15; attempt++) { /* one DISCOVER every 2 s, as a client retries */
        send_frame(&port, request, request_len);
        struct pollfd ready = {.fd = port.fd, .events = POLLIN};
        for (long until = now_ms() + 2000, left; (left = until - now_ms()) > 0 && poll(&ready, 1, (int)left) > 0;) {
            int not_ready;
            ssize_t got = receive_frame(&port, frame, sizeof frame, &not_ready);
            if (got > 0 && report(frame, (size_t)got, xid, not_ready)) return 0;
        }
    }
    printf("DHCPCHECK offer=none\n");
    return 1;
}
