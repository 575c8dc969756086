"""Options of the ``[baremetal]`` group: how this plugin treats its nodes."""

from oslo_config import cfg

from nova_bm.common import node_fields

GROUP = cfg.OptGroup(
    'baremetal',
    title='Bare-metal proxy options',
    help='Options of the nova-bm virt driver, power layer and tools.')

node_opts = [
    cfg.StrOpt(
        'default_resource_class',
        default='baremetal',
        regex=node_fields.RESOURCE_CLASS_PATTERN,
        help='Resource class given to a node enrolled without one. Nova '
             'sees it as the placement resource class '
             'CUSTOM_<UPPER-CASED NAME>, which flavors request with '
             '"resources:CUSTOM_<NAME>=1".'),
    cfg.StrOpt(
        'default_cpu_arch',
        default='x86_64',
        choices=node_fields.CPU_ARCHITECTURES,
        help='CPU architecture given to a node enrolled without one.'),
    cfg.StrOpt(
        'enrolled_node_state',
        default='enroll',
        choices=[('enroll', 'nobody checked the node yet: "nova-bm-manage '
                            'node manage" checks its BMC, then "node '
                            'provide" cleans it and offers it (Ironic\'s '
                            'flow)'),
                 ('manageable', 'the operator vouches for its BMC: "node '
                                'provide" offers it'),
                 ('available', 'offered to tenants at once (labs and '
                               'demos)')],
        help='The provision state of a node enrolled without one '
             '("nova-bm-manage node create", a node file without '
             'provision_state). Only "available" nodes are offered to '
             'Nova\'s scheduler; the others are reported reserved.'),
]

ipmi_opts = [
    cfg.FloatOpt(
        'ipmi_timeout',
        default=5.0, min=0.5, max=10.0,
        help='Seconds one IPMI call to one BMC may take, session logon '
             'included, before it fails. Packets are retransmitted within '
             'this time; a BMC that never answers costs it once and '
             'delays no other BMC.'),
    cfg.IntOpt(
        'ipmi_cipher_suite',
        default=17,
        choices=[(17, 'RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128'),
                 (3, 'RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128: what '
                     'ipmitool and FreeIPMI ask for by default')],
        help='The RMCP+ cipher suite asked for first at a logon. A BMC that '
             'refuses 17 is asked for 3, which costs one round trip at '
             'its first logon only (the refusal is remembered while the '
             'process runs); 3 saves that round trip in the first sweep '
             'after a start when most BMCs are older ones.'),
    cfg.IntOpt(
        'ipmi_retries',
        default=2, min=0, max=10,
        help='How many times a call is retried when the BMC answered but '
             'could not do it now (busy) or dropped the session. A call '
             'that timed out is not retried.'),
    cfg.FloatOpt(
        'ipmi_retry_interval',
        default=0.5, min=0.0,
        help='Seconds before the first retry; each further retry waits '
             'twice as long.'),
    cfg.IntOpt(
        'ipmi_breaker_threshold',
        default=3, min=1,
        help='After this many consecutive failed calls (unreachable, '
             'timed out, credentials refused) a BMC is not contacted '
             'for ipmi_breaker_cooldown seconds; calls fail at once.'),
    cfg.FloatOpt(
        'ipmi_breaker_cooldown',
        default=60.0, min=0.0,
        help='Seconds a failing BMC is left alone before one probe call '
             'is let through again.'),
    cfg.IntOpt(
        'ipmi_parallelism',
        default=1024, min=1,
        help='How many BMCs one process talks to at the same time; the '
             'others wait for a free slot (the wait is not counted in '
             'their ipmi_timeout). A healthy BMC holds its slot for '
             'milliseconds, a dead or slow one for up to ipmi_timeout: a '
             'power sweep ends within about one ipmi_timeout as long as '
             'the failing BMCs fit in the slots, and takes one more '
             'timeout for each further ipmi_parallelism of them. 1024 '
             'covers a proxy of 3,000 nodes with a third of its BMCs '
             'failing at once; a slot costs one pyghmi session (a few KB; '
             'sessions share UDP sockets).'),
    cfg.IntOpt(
        'power_state_timeout',
        default=60, min=1,
        help='Seconds to wait, after power on, off or reboot, until the '
             'BMC reports the target power state.'),
    cfg.FloatOpt(
        'power_state_poll_interval',
        default=1.0, min=0.05,
        help='Longest pause, in seconds, between power state reads while '
             'waiting for a target state (after power on, off or reboot, '
             'and for a deploy ramdisk to power off). Reads start 0.05 s '
             'apart and the pause doubles up to this.'),
]

driver_opts = [
    cfg.IntOpt(
        'power_sync_interval',
        default=60, min=0,
        help='Seconds between two sweeps in which the compute driver asks '
             'every BMC it owns for its power state, all at once. Nova '
             'answers power state queries from the last sweep; a node '
             'whose BMC fails in a sweep is reserved in placement until '
             'a later sweep reaches it. 0 sweeps only when nova-compute '
             'starts.'),
    cfg.BoolOpt(
        'report_standard_inventory',
        default=False,
        help='Also report each node\'s vCPUs, RAM and disk as VCPU, '
             'MEMORY_MB and DISK_GB inventory in placement, all of it '
             'reserved while an instance holds the node (and while the '
             'node is in maintenance or its BMC is failing), so that a '
             'flavor without a custom resource class can land on a node. '
             'Pair it with nova-bm-scheduler or the exact filters, which '
             'make sure such a flavor fits the node exactly and alone. '
             'Off: a node offers only one unit of its CUSTOM_<class>.'),
]

scale_out_opts = [
    cfg.StrOpt(
        'ownership',
        default='static',
        choices=[
            ('static', 'A node belongs to the proxy named in its '
                       'service_host, and moves only when an operator '
                       'runs "nova-bm-manage node update --host".'),
            ('hash_ring', 'The nodes are spread by a consistent hash ring '
                          'over the proxies in this mode that are up by '
                          "Nova's servicegroup API. A proxy that goes down "
                          'loses its nodes without an instance to the '
                          'others at their next resource cycle; nodes with '
                          'an instance stay with it.'),
        ],
        help='How the nova-compute proxies that share one node database '
             'divide the nodes among themselves. Every proxy of one '
             'partition key must use the same mode.'),
    cfg.StrOpt(
        'partition_key',
        regex=node_fields.PARTITION_KEY_PATTERN,
        help='In hash_ring mode, this proxy manages only nodes with the '
             'same partition key (a rack, a room, a region), shared with '
             'the other proxies of that key. Unset: nodes without a key. '
             'Set a node\'s key with "nova-bm-manage node create|update '
             '--partition-key" or "partition_key" in a node file. Ignored '
             'in static mode.'),
    cfg.IntOpt(
        'proxy_down_time',
        default=180, min=1,
        help='Seconds after its last resource cycle a proxy counts as '
             'gone for "nova-bm-manage node list --orphaned" (which lists '
             'the nodes holding an instance whose proxy is gone). Keep it '
             'above [DEFAULT] update_resources_interval (60 s by default).'),
]

deploy_opts = [
    cfg.StrOpt(
        'default_deploy_interface',
        default='image',
        choices=node_fields.DEPLOY_INTERFACES,
        help='Deploy interface given to a node enrolled without one. '
             'Nodes enrolled before deploys existed are "netboot".'),
    cfg.StrOpt(
        'default_boot_mode',
        default='uefi',
        choices=node_fields.BOOT_MODES,
        help='Boot mode given to a node enrolled without one (Ironic\'s '
             'default since Yoga). Nodes enrolled before boot modes existed '
             'are "bios", as they were deployed.'),
    cfg.IntOpt(
        'deploy_timeout',
        default=1800, min=1,
        help='Seconds a deploy may take from power on until the deploy '
             'ramdisk reports that it is done. A deploy that runs out '
             'fails (the node is powered off and released, and Nova '
             'reschedules the instance). A cleaning\'s ramdisk must look '
             'itself up within it too; its report is bounded by '
             'clean_timeout.'),
    cfg.IntOpt(
        'deploy_shutdown_timeout',
        default=120, min=1,
        help='Seconds the deploy ramdisk has, after it reported, to power '
             'the machine off by itself. A report counts only once the BMC '
             'reads the machine off: a node still on after this is '
             'powered off over IPMI and its deploy fails, or its cleaning '
             '(clean failed, maintenance).'),
    cfg.FloatOpt(
        'deploy_poll_interval',
        default=10.0, min=0.05,
        help='Seconds between two looks at the node database while a '
             'deploy or cleaning waits for its ramdisk, in case the '
             'ramdisk reported to another proxy sharing the database. A '
             'ramdisk that reports to this proxy wakes the wait at once. '
             'Each waiting deploy or cleaning costs one query per '
             'interval: 1,000 nodes cleaned at once, 100 queries a '
             'second at the default.'),
    cfg.StrOpt(
        'deploy_kernel',
        default='$state_path/nova-bm/deploy.kernel',
        help='The deploy ramdisk\'s kernel, a file on the proxy (build it '
             'with nova-bm-build-ramdisk).'),
    cfg.StrOpt(
        'deploy_ramdisk',
        default='$state_path/nova-bm/deploy.initramfs',
        help='The deploy ramdisk\'s initramfs, a file on the proxy.'),
    cfg.StrOpt(
        'deploy_kernel_params',
        default='console=ttyS0,115200',
        help='Extra kernel command line of the deploy ramdisk.'),
    cfg.StrOpt(
        'deploy_http_url',
        help='The URL under which the nodes reach this proxy\'s deploy '
             'HTTP server, e.g. http://10.1.0.5:8089 (no trailing '
             'slash). Default: http://<[DEFAULT] my_ip>:<port of '
             'deploy_http_bind>.'),
    cfg.StrOpt(
        'deploy_http_bind',
        sample_default='<[DEFAULT] my_ip>:8089',
        help='host:port the deploy HTTP server listens on, in '
             'nova-compute: the address the nodes reach on the '
             'provisioning network. Default: [DEFAULT] my_ip, port 8089 '
             '(a host left out, ":8089", is my_ip too). Never a wildcard '
             'unless you mean it: 0.0.0.0 also serves every other network '
             'of the host. An IPv6 host is written in brackets, '
             '[fd00::5]:8089. Port 0 picks a free port (tests).'),
    cfg.FloatOpt(
        'deploy_http_request_timeout',
        default=10.0, min=0.1,
        help='Seconds a client of the deploy HTTP server has to send a '
             'whole request (its head, then its body); a client slower '
             'than that is disconnected. The deploy ramdisk sends each '
             'request at once.'),
    cfg.FloatOpt(
        'deploy_http_idle_timeout',
        default=5.0, min=0.1,
        help='Seconds a kept-alive connection to the deploy HTTP server '
             'may stay idle between requests before it is closed.'),
    cfg.IntOpt(
        'deploy_http_max_connections',
        default=500, min=1,
        help='Connections the deploy HTTP server holds open at once, from '
             'all clients; further ones are closed at once, unanswered. '
             'Each is a file descriptor of nova-compute, which also holds '
             'the database, AMQP and IPMI sockets: keep it well under the '
             'process\'s limit (ulimit -n). A deploy holds one while it '
             'downloads its image.'),
    cfg.IntOpt(
        'deploy_http_max_connections_per_source',
        default=16, min=1,
        help='Connections the deploy HTTP server holds open at once from '
             'one source address, so one machine cannot take them all. '
             'A deploy ramdisk uses one at a time; raise it only when '
             'many nodes reach the proxy through one NAT address.'),
    cfg.FloatOpt(
        'ramdisk_min_boot_time',
        default=5.0, min=0.0,
        help='Seconds after the proxy powers a node on before which no '
             'deploy ramdisk can have booted (firmware, iPXE, kernel, '
             'DHCP). A lookup of the node that comes sooner is not its '
             'ramdisk: the deploy or cleaning fails, the node is held '
             'back (clean failed, maintenance) and nobody gets its '
             'token. 0 turns the check off (simulated machines).'),
    cfg.StrOpt(
        'deploy_http_root',
        default='$state_path/nova-bm/http',
        help='Directory of the files the deploy HTTP server writes and '
             'serves: boot.ipxe and nodes/<MAC>.ipxe, one script per '
             'enrolled NIC of a node being deployed or cleaned.'),
    cfg.StrOpt(
        'image_cache_dir',
        default='$state_path/nova-bm/images',
        help='Where the proxy keeps the raw images it deploys, one file '
             'per Glance image and checksum.'),
    cfg.FloatOpt(
        'image_cache_size_gb',
        default=100.0, min=0.0,
        help='Largest total size of the image cache; Nova\'s image cache '
             'manager evicts the least recently used images not being '
             'deployed above it ([image_cache] manager_interval).'),
    cfg.IntOpt(
        'image_cache_ttl',
        default=7 * 24 * 3600, min=0,
        help='Seconds after its last deploy an image is evicted from the '
             'cache.'),
    cfg.StrOpt(
        'automated_clean',
        default='metadata',
        choices=[('metadata', 'the deploy ramdisk erases every disk\'s '
                              'partition tables (both GPT headers), the '
                              'file system and RAID signatures at each '
                              'partition\'s start and end (what wipefs -a '
                              'removes) and any config drive: the data '
                              'stays on the disk, unreadable to software '
                              'that trusts the tables'),
                 ('express', 'hardware secure erase where the device has '
                             'it (NVMe Format with Secure Erase Settings '
                             '1, user data erase), else metadata'),
                 ('full', 'hardware secure erase, else every byte '
                          'overwritten with zeros and read back at '
                          'samples: the next tenant cannot read the '
                          'previous one\'s data (hours per TB on spinning '
                          'disks)'),
                 ('none', 'no cleaning: the next tenant may read the '
                          'previous one\'s data (test clouds only)')],
        help='How the disks of an "image" node are erased after its '
             'instance is deleted or its deploy failed, before anyone else '
             'gets it: the default of nodes without a clean mode of their '
             'own (nova-bm-manage node update --clean-mode).'),
    cfg.IntOpt(
        'clean_timeout',
        default=7200, min=1,
        help='Seconds a cleaning may take from power on until the deploy '
             'ramdisk reports it; one that does not report in time puts '
             'the node in clean failed and maintenance. The ramdisk '
             'erases the disks one after another: a "full" cleaning that '
             'overwrites needs the sum of the disks\' sizes divided by '
             'their write rate, plus the boot (two 4 TB disks at 200 '
             'MB/s: 40000 s).'),
    cfg.IntOpt(
        'max_concurrent_cleanings',
        default=20, min=1,
        help='Cleanings one proxy runs at once; more wait their turn, '
             'still reserved in placement. Each running one holds a '
             'thread while it waits for its ramdisk, never a Nova build '
             'worker; a waiting one holds nothing.'),
    cfg.IntOpt(
        'inspect_timeout',
        default=1800, min=1,
        help='Seconds an inspection (nova-bm-manage node inspect) may take '
             'from power on until the deploy ramdisk reports the '
             'machine\'s hardware; one that does not puts the node in '
             'inspect failed. Most of it is the firmware\'s power-on self '
             'test (minutes on large servers) and the ramdisk\'s boot.'),
    cfg.IntOpt(
        'max_concurrent_inspections',
        default=50, min=1,
        help='Inspections one proxy runs at once; more wait their turn '
             '(in inspecting). Each running one holds a thread while it '
             'waits for its ramdisk; a waiting one holds nothing.'),
    cfg.IntOpt(
        'root_disk_min_gb',
        default=4, min=0,
        help='A node without root device hints gets its image on the '
             'smallest of its disks of at least this many GiB (Ironic\'s '
             'rule, 4 GiB: USB sticks and SATA DOMs are smaller). Give a '
             'node root device hints (nova-bm-manage node update '
             '--root-device) to choose a disk by serial, WWN, size, model '
             'or path.'),
]

network_opts = [
    cfg.HostAddressOpt(
        'tftp_server',
        help='The TFTP server that hands legacy PXE ROMs (firmware without '
             'iPXE) the iPXE boot loader. When set, the PXE port of a node '
             'being deployed also gets DHCP options 66, 150 and '
             'server-ip-address with this address and "tag:!ipxe,67" with '
             'the iPXE build for the node\'s boot mode (ipxe_bootfile_name '
             'or uefi_ipxe_bootfile_name); iPXE-capable firmware '
             '("tag:ipxe,67") is always sent straight to the proxy\'s '
             'boot.ipxe.'),
    cfg.StrOpt(
        'ipxe_bootfile_name',
        default='undionly.kpxe',
        help='The iPXE boot loader on tftp_server that a BIOS node\'s '
             'PXE ROM gets.'),
    cfg.StrOpt(
        'uefi_ipxe_bootfile_name',
        default='snponly.efi',
        help='The iPXE boot loader on tftp_server that a UEFI node\'s '
             'firmware gets (an x86-64 EFI executable; snponly.efi drives '
             'the NIC through the firmware\'s own network driver).'),
]

console_opts = [
    cfg.BoolOpt(
        'console_enabled',
        default=True,
        help='Open each deployed node\'s serial console over IPMI '
             'Serial-over-LAN, from the moment its instance boots from '
             'its disk until the instance is deleted: it feeds the '
             'console log (openstack console log show) and, with Nova\'s '
             '[serial_console] enabled, the interactive serial console. '
             'Each open console holds one BMC session and its SOL '
             'payload, which no other SOL client (ipmitool sol activate) '
             'can then have. False: neither is available.'),
    cfg.IntOpt(
        'console_log_bytes',
        default=100 * 1024, min=1024,
        help='How much of each node\'s console is kept, in bytes, for '
             'the console log (the last bytes printed; in memory, so '
             'lost when nova-compute restarts).'),
    cfg.ListOpt(
        'console_allowed_clients',
        default=[],
        help='Addresses or networks (CIDR) allowed to connect to the '
             'nodes\' serial console endpoints: the hosts that run '
             'nova-serialproxy. A connection from anywhere else is closed '
             'at once, before it reads or writes a byte. Loopback and '
             '[DEFAULT] my_ip are always allowed.'),
    cfg.IntOpt(
        'console_max_sessions',
        default=1000, min=1,
        help='At most this many nodes have their SOL session open at once. '
             'Further nodes wait, in the order they were deployed, until '
             'one is freed; their console is unavailable meanwhile (and '
             'its log empty). Each session costs a BMC session and a '
             'check every 15 s.'),
]

opts = (node_opts + ipmi_opts + driver_opts + scale_out_opts
        + deploy_opts + network_opts + console_opts)


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
