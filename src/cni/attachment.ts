import { createHash } from 'node:crypto';

/**
 * One container's attachment to one network: the spec's key (network name, container id,
 * interface name). Everything the plugin names for it is derived from that key, never drawn at
 * random, so that a DEL after a killed ADD, or a CHECK, names the very same things (the run's
 * journal records them too).
 */
export interface Attachment {
  network: string;
  containerId: string;
  ifname: string;
}

/** What the plugin names for one attachment. */
export interface AttachmentNames {
  /** The host end of the veth pair: "veth" and 8 hex digits, as the reference bridge plugin names its. */
  hostVeth: string;
  /** Locally administered unicast addresses (02:…), fixed per attachment: the checks' identity. */
  hostMac: string;
  containerMac: string;
  /** The suffix of its runs' ids (see runTag). */
  tag: string;
}

export function attachmentNames(attachment: Attachment): AttachmentNames {
  const hash = sha256(['attachment', attachment.network, attachment.containerId, attachment.ifname].join('\0'));
  return {
    hostVeth: `veth${hash.slice(0, 8)}`,
    hostMac: mac(hash.slice(8, 18)),
    containerMac: mac(hash.slice(18, 28)),
    tag: runTag(attachment.containerId),
  };
}

/**
 * The tail of a container's run ids, in place of the random one `runbook run` draws: the first
 * 8 hex digits of the container id when it starts with them (podman's, containerd's and
 * Kubernetes' ids are hex, and `podman ps` shows them), else of its sha256. So `runbook runs`
 * shows whose run each is, and the plugin finds an attachment's runs by their file names
 * without opening every journal (the run's recorded parameters then confirm it).
 */
export function runTag(containerId: string): string {
  const lower = containerId.toLowerCase();
  return /^[0-9a-f]{8}/.test(lower) ? lower.slice(0, 8) : sha256(containerId).slice(0, 8);
}

/** The tail of the ids of a network's own runs (its network runbook), which no container id has as its tag. */
export const networkRunTag = 'network';

/** The bridge's fixed hardware address, per network. */
export function bridgeMac(network: string): string {
  return mac(sha256(['bridge', network].join('\0')).slice(0, 10));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** "02:" and five bytes from 10 hex digits: locally administered, unicast. */
function mac(hex: string): string {
  return ['02', ...(hex.match(/../g) ?? [])].join(':');
}
