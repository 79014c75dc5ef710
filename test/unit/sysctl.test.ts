// linux.sysctl: only the keys of the container's own namespaces, checked at create (runc's rule).
import { describe, expect, it } from 'vitest';
import { sysctlFiles } from '../../src/container/sysctl';

const own = new Map<string, string | undefined>([['ipc', undefined], ['uts', undefined], ['network', undefined], ['mount', undefined]]);

describe('sysctlFiles', () => {
  it('maps the keys of the ipc, uts and network namespaces to their files', () => {
    expect(sysctlFiles({ 'kernel.shmmax': '1000', 'fs.mqueue.queues_max': '8', 'kernel.domainname': 'd', 'net.ipv4.ip_forward': '1' }, own)).toEqual([
      { key: 'kernel.shmmax', file: '/proc/sys/kernel/shmmax', value: '1000' },
      { key: 'fs.mqueue.queues_max', file: '/proc/sys/fs/mqueue/queues_max', value: '8' },
      { key: 'kernel.domainname', file: '/proc/sys/kernel/domainname', value: 'd' },
      { key: 'net.ipv4.ip_forward', file: '/proc/sys/net/ipv4/ip_forward', value: '1' },
    ]);
    expect(sysctlFiles(undefined, own)).toEqual([]);
  });

  it('refuses a key of no namespace: setting it would change the host', () => {
    for (const key of ['kernel.core_uses_pid', 'kernel.core_pattern', 'vm.overcommit_memory', 'fs.file-max']) {
      expect(() => sysctlFiles({ [key]: '1' }, own)).toThrow(`config.json: config.linux.sysctl: "${key}" is not in a separate kernel namespace: setting it would change the host`);
    }
  });

  it('refuses a key whose namespace the container does not have of its own', () => {
    const none = new Map<string, string | undefined>([['mount', undefined]]);
    expect(() => sysctlFiles({ 'net.ipv4.ip_forward': '1' }, none)).toThrow('"net.ipv4.ip_forward" needs a network namespace of the container\'s own');
    expect(() => sysctlFiles({ 'kernel.msgmax': '1' }, none)).toThrow('"kernel.msgmax" needs a ipc namespace of the container\'s own');
    expect(() => sysctlFiles({ 'kernel.hostname': 'h' }, none)).toThrow('"kernel.hostname" needs a uts namespace of the container\'s own');
  });

  it('refuses the host\'s own network namespace joined by path', () => {
    const host = new Map<string, string | undefined>([['network', '/proc/self/ns/net']]);
    expect(() => sysctlFiles({ 'net.ipv4.ip_forward': '1' }, host)).toThrow('the network namespace "/proc/self/ns/net" is the host\'s');
  });

  it('refuses names that would leave /proc/sys, and values that are not strings', () => {
    for (const key of ['net.ipv4/../../kernel.core_pattern', 'net..core', 'net.ipv4.', 'net.ipv4...x']) {
      expect(() => sysctlFiles({ [key]: '1' }, own)).toThrow(`"${key}" is not a sysctl name`);
    }
    expect(() => sysctlFiles({ 'net.ipv4.ip_forward': 1 }, own)).toThrow('"net.ipv4.ip_forward": its value must be a string');
  });
});
